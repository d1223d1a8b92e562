#include "core/agent/downloadstream.h"

#include "core/agent/agentclient.h"
#include "core/agent/filedownload.h"

namespace Agent {

DownloadStream::DownloadStream(AgentClient *client, quint32 id, const StreamLimits &limits)
    : FileGetStream(client, id, limits, QStringLiteral("the download"))
    , m_idleMs(limits.deadlineMs)
{
}

Core::Future<FileDownload *> DownloadStream::start(const QString &guestPath)
{
    m_path = guestPath;
    sendGet(guestPath, StreamLimits::kRequestDeadlineMs);
    return m_promise.future();
}

void DownloadStream::opened(quint64 size)
{
    auto *device = new FileDownload(std::static_pointer_cast<DownloadStream>(shared_from_this()), m_path, size);
    m_device = device;
    progress();
    m_promise.resolve(device);
}

bool DownloadStream::deliver(std::string_view data)
{
    if (!m_device) { // the reader went away without closing
        cancel();
        return false;
    }
    m_device->onData(QByteArray(data.data(), static_cast<qsizetype>(data.size())));
    progress();
    if (m_device->isReaderBehind())
        holdCredit(true);
    return true;
}

void DownloadStream::completed(quint64)
{
    if (m_device)
        m_device->onComplete();
}

void DownloadStream::failed(const Core::Error &error)
{
    if (!m_promise.isResolved())
        m_promise.resolve(error);
    else if (m_device)
        m_device->onError(error);
}

void DownloadStream::drained()
{
    if (!isActive())
        return;
    progress();
    if (!m_device || m_device->hasReaderCaughtUp())
        holdCredit(false);
}

void DownloadStream::cancel()
{
    m_device = nullptr;
    if (isActive())
        abort(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("the download of %1 was cancelled").arg(m_path)), true);
}

// Bytes moved: the idle deadline starts over.
void DownloadStream::progress()
{
    startDeadline(m_idleMs);
}

} // namespace Agent
