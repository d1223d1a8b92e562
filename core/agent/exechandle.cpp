#include "core/agent/exechandle.h"

#include "core/agent/agentclient.h"
#include "core/agent/execstream.h"

namespace Agent {

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
