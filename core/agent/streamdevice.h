#pragma once

#include "core/agent/chunkqueue.h"
#include "core/error.h"

#include <QIODevice>

namespace Agent {

// The caller's end of an agent stream whose bytes come from the guest (a
// FileDownload, a ForwardedStream): a sequential QIODevice whose only read
// buffer is the guest's chunks as they arrived, kept until read.
//  - readyRead when bytes arrived. Above kReadHighWater unread bytes the
//    reader is behind: its stream withholds credit until the reader caught
//    up, at kReadLowWater or less.
//  - Once it ended (the guest's end, a failure, the caller's cancel) reads
//    past the unread bytes return -1.
//  - A failure: errorOccurred(), then the end; error() says why.
// Signals are emitted from the event loop, never from inside read(), in the
// order a socket would: data, progress, the failure, the end. A slot may
// delete the device.
class StreamDevice : public QIODevice {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StreamDevice)
public:
    static constexpr qint64 kReadHighWater = 4 << 20;
    static constexpr qint64 kReadLowWater = 1 << 20;

    // Why it ended, when it failed; hasError() is false after a clean end.
    bool hasError() const { return m_hasError; }
    Core::Error error() const { return m_error; }

    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override;
    // More than kReadHighWater unread, or again kReadLowWater or less: when
    // the stream withholds its credit and when it gives it back.
    bool isReaderBehind() const { return bytesAvailable() > kReadHighWater; }
    bool hasReaderCaughtUp() const { return bytesAvailable() <= kReadLowWater; }

Q_SIGNALS:
    void errorOccurred(const Core::Error &error);

protected:
    // Opened in mode, unbuffered: the chunks are the only read buffer.
    StreamDevice(QObject *parent, OpenMode mode);

    qint64 readData(char *data, qint64 maxSize) override;
    // The reader took bytes; unread are left.
    virtual void taken(qint64 unread) = 0;
    // Emitted between the data and the failure (a forward's bytesWritten);
    // false when a slot deleted the device.
    virtual bool emitProgress() { return true; }
    // The end: readChannelFinished() unless overridden.
    virtual void emitEnd();

    const ChunkQueue &unread() const { return m_unread; }
    // Bytes arrived: readable now, readyRead from the event loop.
    void received(QByteArray data);
    void dropUnread() { m_unread.clear(); }
    bool isEnded() const { return m_ended; }
    // Nothing more arrives; false when it had ended already. Signalled
    // (emitEnd() from the event loop) unless quietly.
    enum class EndSignal { Signalled, Quietly };
    bool end(EndSignal signal = EndSignal::Signalled);
    // Ends with error (errorOccurred(), then the end), unless it had ended.
    bool fail(const Core::Error &error);
    void scheduleSignals();

private:
    void emitSignals();

    ChunkQueue m_unread;
    bool m_ended = false;
    bool m_hasError = false;
    Core::Error m_error;

    // Signals waiting for the event loop.
    bool m_signalsPosted = false;
    bool m_pendingReadyRead = false;
    bool m_pendingError = false;
    bool m_pendingEnd = false;
};

} // namespace Agent
