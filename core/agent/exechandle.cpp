#include "core/agent/exechandle.h"

#include "core/agent/agentclient.h"
#include "core/agent/agentstream.h"
#include "core/agent/execstream.h"

namespace Agent {

Core::Result requireSuccess(const Core::Expected<ExecResult> &result, const QString &what)
{
    if (!result)
        return Core::Error(result.error().code, QStringLiteral("%1: %2").arg(what, result.error().message), result.error().detail);
    if (result->timedOut)
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("%1: the guest did not finish it in time").arg(what));
    if (result->signal == 0 && result->exitCode == 0)
        return {};
    const QByteArray err = result->stderrData.trimmed();
    const QString how = result->signal != 0 ? QStringLiteral("killed by signal %1").arg(result->signal) : QStringLiteral("exit %1").arg(result->exitCode);
    const QString detail = err.isEmpty() ? QString() : QStringLiteral(": ") + guestText(std::string_view(err.constData(), size_t(err.size())));
    return Core::Error(Core::ErrorCode::Agent, QStringLiteral("%1: %2%3").arg(what, how, detail));
}

ExecHandle::ExecHandle(AgentClient *client, std::shared_ptr<ExecStream> stream)
    : QObject(client)
    , m_stream(std::move(stream))
{
    m_stream->setHandle(this);
}

ExecHandle::~ExecHandle()
{
    m_stream->abandon();
}

quint32 ExecHandle::streamId() const
{
    return m_stream->id();
}

Core::Future<ExecResult> ExecHandle::result() const
{
    return m_stream->result();
}

bool ExecHandle::isFinished() const
{
    return m_stream->isFinished();
}

void ExecHandle::writeStdin(const QByteArray &data)
{
    m_stream->writeStdin(data);
}

void ExecHandle::closeStdin()
{
    m_stream->closeStdin();
}

qint64 ExecHandle::stdinBytesToWrite() const
{
    return m_stream->stdinBytesToWrite();
}

void ExecHandle::setOutputPaused(bool paused)
{
    m_stream->pauseOutput(paused);
}

void ExecHandle::cancel()
{
    m_stream->cancel();
}

} // namespace Agent
