#include "core/agent/filedownload.h"

#include "core/agent/downloadstream.h"

#include <QPointer>

namespace Agent {

FileDownload::FileDownload(std::weak_ptr<DownloadStream> stream, QString guestPath, quint64 size)
    : m_stream(std::move(stream))
    , m_path(std::move(guestPath))
    , m_size(size)
{
    // Our own read buffer (the chunks) is the only one.
    QIODevice::open(QIODevice::ReadOnly | QIODevice::Unbuffered);
}

FileDownload::~FileDownload()
{
    cancel();
}

qint64 FileDownload::bytesAvailable() const
{
    return m_unread.size() + QIODevice::bytesAvailable();
}

bool FileDownload::atEnd() const
{
    return m_complete && m_unread.isEmpty();
}

void FileDownload::close()
{
    cancel();
    m_unread.clear();
    m_held.clear();
    QIODevice::close();
}

void FileDownload::cancel()
{
    if (m_complete)
        return;
    m_complete = true;
    if (const auto stream = m_stream.lock())
        stream->cancel();
}

qint64 FileDownload::readData(char *data, qint64 maxSize)
{
    const qint64 done = m_unread.read(data, maxSize);
    if (done > 0) {
        if (const auto stream = m_stream.lock())
            stream->drained(m_unread.size());
    }
    if (done == 0 && m_complete)
        return -1; // the end: nothing more will come
    return done;
}

qint64 FileDownload::writeData(const char *, qint64)
{
    setErrorString(QStringLiteral("a download is read-only"));
    return -1;
}

// The chunk before this one was within the declared size: it goes out now.
void FileDownload::onData(QByteArray data)
{
    if (releaseHeld())
        scheduleSignals();
    m_held = std::move(data);
}

void FileDownload::onComplete()
{
    releaseHeld();
    m_complete = true;
    m_pendingFinished = true;
    scheduleSignals();
}

bool FileDownload::releaseHeld()
{
    if (m_held.isEmpty())
        return false;
    m_unread.append(std::exchange(m_held, {}));
    m_pendingReadyRead = true;
    return true;
}

void FileDownload::onError(const Core::Error &error)
{
    if (m_complete)
        return;
    m_complete = true;
    m_held.clear(); // maybe the last of an overfed file: never handed out
    m_hasError = true;
    m_error = error;
    setErrorString(error.message);
    m_pendingError = true;
    scheduleSignals();
}

void FileDownload::scheduleSignals()
{
    if (m_signalsPosted)
        return;
    m_signalsPosted = true;
    QMetaObject::invokeMethod(this, &FileDownload::emitSignals, Qt::QueuedConnection);
}

// Data first, then how it ended. A slot may delete the device.
void FileDownload::emitSignals()
{
    m_signalsPosted = false;
    const QPointer<FileDownload> self(this);
    if (std::exchange(m_pendingReadyRead, false) && bytesAvailable() > 0) {
        Q_EMIT readyRead();
        if (!self)
            return;
    }
    const bool finishedNow = std::exchange(m_pendingFinished, false);
    const bool failedNow = std::exchange(m_pendingError, false);
    if (finishedNow)
        Q_EMIT finished();
    else if (failedNow)
        Q_EMIT errorOccurred(m_error);
    if (!self || !(finishedNow || failedNow))
        return;
    Q_EMIT readChannelFinished();
}

} // namespace Agent
