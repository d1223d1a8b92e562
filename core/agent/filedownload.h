#pragma once

#include "core/agent/streamdevice.h"

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
// Signals are emitted from the event loop, never from inside read(); the
// reading, the water marks and the failure are StreamDevice's.
class FileDownload final : public StreamDevice {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FileDownload)
public:
    ~FileDownload() override;

    QString guestPath() const { return m_path; }
    quint64 fileSize() const { return m_size; }
    // Every declared byte arrived, or the download failed.
    bool isComplete() const { return isEnded(); }

    bool atEnd() const override;
    // Unread bytes are dropped; an unfinished transfer is cancelled.
    void close() override;

Q_SIGNALS:
    void finished();

protected:
    qint64 writeData(const char *data, qint64 size) override;

private:
    friend class DownloadStream;
    FileDownload(std::weak_ptr<DownloadStream> stream, QString guestPath, quint64 size);

    // Called by DownloadStream.
    void onData(QByteArray data);
    void onComplete();
    void onError(const Core::Error &error);
    // Moves the held chunk to the unread ones.
    void releaseHeld();

    void cancel();
    void taken(qint64 unread) override;
    void emitEnd() override;

    const std::weak_ptr<DownloadStream> m_stream; // the protocol side, while the client has it
    const QString m_path;
    const quint64 m_size;
    QByteArray m_held; // the latest chunk, until the next one or the end
};

} // namespace Agent
