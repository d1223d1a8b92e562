#include "core/agent/filedownload.h"

#include "core/agent/downloadstream.h"

#include <QPointer>

#include <utility>

namespace Agent {

FileDownload::FileDownload(std::weak_ptr<DownloadStream> stream, QString guestPath, quint64 size)
    : StreamDevice(nullptr, QIODevice::ReadOnly)
    , m_stream(std::move(stream))
    , m_path(std::move(guestPath))
    , m_size(size)
{
}

FileDownload::~FileDownload()
{
    cancel();
}

bool FileDownload::atEnd() const
{
    return isEnded() && unread().isEmpty();
}

void FileDownload::close()
{
    cancel();
    dropUnread();
    m_held.clear();
    QIODevice::close();
}

void FileDownload::cancel()
{
    if (!end(EndSignal::Quietly))
        return;
    if (const auto stream = m_stream.lock())
        stream->cancel();
}

void FileDownload::taken(qint64)
{
    if (const auto stream = m_stream.lock())
        stream->drained();
}

qint64 FileDownload::writeData(const char *, qint64)
{
    setErrorString(QStringLiteral("a download is read-only"));
    return -1;
}

// The chunk before this one was within the declared size: it goes out now.
void FileDownload::onData(QByteArray data)
{
    releaseHeld();
    m_held = std::move(data);
}

void FileDownload::onComplete()
{
    releaseHeld();
    end();
}

void FileDownload::releaseHeld()
{
    if (!m_held.isEmpty())
        received(std::exchange(m_held, {}));
}

void FileDownload::onError(const Core::Error &error)
{
    m_held.clear(); // maybe the last of an overfed file: never handed out
    fail(error);
}

// A clean end is finished() first.
void FileDownload::emitEnd()
{
    if (!hasError()) {
        const QPointer<FileDownload> self(this);
        Q_EMIT finished();
        if (!self)
            return;
    }
    Q_EMIT readChannelFinished();
}

} // namespace Agent
