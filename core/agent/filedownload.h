#pragma once

#include "core/agent/chunkqueue.h"
#include "core/error.h"

#include <QIODevice>

#include <memory>

namespace Agent {

class DownloadStream;

// A guest file as it is read (AgentClient::download), a sequential read-only
// QIODevice whose memory stays flat for any file size:
//  - readyRead when bytes arrived; they stay here until read. Above
//    kReadHighWater unread bytes the stream's credit is withheld (the
//    guest's agent stops reading the file once the window in flight,
//    Protocol::kStreamWindow, arrived) until the reader drains below
//    kReadLowWater. Other operations on the VM go on meanwhile.
//  - fileSize() is the size the guest declared; the guest may send no more,
//    and a download that ends short fails. The latest chunk is held back
//    until the next one or a clean end arrives: a guest that sends more than
//    it declared fails the download short of its size, never with every
//    declared byte handed out (a reader passing them on would look done).
//  - finished() once every byte arrived (some may still be unread), then
//    readChannelFinished(); atEnd() once those are read too.
//  - errorOccurred() when it failed (the guest's error, the connection lost,
//    no progress for StreamLimits::kTransferIdleMs), then
//    readChannelFinished(); error() says why. Unread bytes stay readable.
//  - Closing or deleting it before the end cancels the transfer in the guest.
// Signals are emitted from the event loop, never from inside read().
class FileDownload final : public QIODevice {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FileDownload)
public:
    static constexpr qint64 kReadHighWater = 4 << 20;
    static constexpr qint64 kReadLowWater = 1 << 20;

    ~FileDownload() override;

    QString guestPath() const { return m_path; }
    quint64 fileSize() const { return m_size; }
    // Every declared byte arrived, or the download failed.
    bool isComplete() const { return m_complete; }
    bool hasError() const { return m_hasError; }
    Core::Error error() const { return m_error; }

    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override;
    bool atEnd() const override;
    // Unread bytes are dropped; an unfinished transfer is cancelled.
    void close() override;

Q_SIGNALS:
    void finished();
    void errorOccurred(const Core::Error &error);

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    friend class DownloadStream;
    FileDownload(std::weak_ptr<DownloadStream> stream, QString guestPath, quint64 size);

    // Called by DownloadStream.
    void onData(QByteArray data);
    void onComplete();
    void onError(const Core::Error &error);
    // Moves the held chunk to the unread ones; false when none was held.
    bool releaseHeld();

    void cancel();
    void scheduleSignals();
    void emitSignals();

    const std::weak_ptr<DownloadStream> m_stream; // the protocol side, while the client has it
    const QString m_path;
    const quint64 m_size;
    ChunkQueue m_unread;
    QByteArray m_held; // the latest chunk, until the next one or the end
    bool m_complete = false;
    bool m_hasError = false;
    Core::Error m_error;

    bool m_signalsPosted = false;
    bool m_pendingReadyRead = false;
    bool m_pendingFinished = false;
    bool m_pendingError = false;
};

} // namespace Agent
