#include "core/agent/exechandle.h"

#include "core/agent/agentclient.h"

namespace Agent {

using Protocol::MsgType;

ExecHandle::ExecHandle(AgentClient *client, quint32 stream, bool collect)
    : QObject(client)
    , m_client(client)
    , m_stream(stream)
    , m_collect(collect)
{
}

ExecHandle::~ExecHandle()
{
    if (!m_promise.isResolved() && m_client && m_stream) {
        m_client->send(MsgType::Cancel, m_stream, {});
        m_client->endStream(m_stream);
        m_promise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the command was abandoned"));
    }
}

void ExecHandle::writeStdin(const QByteArray &data)
{
    if (m_promise.isResolved() || !m_stream)
        return;
    const qsizetype chunk = m_client->dataChunk();
    for (qsizetype off = 0; off < data.size(); off += chunk) {
        const qsizetype n = qMin(chunk, data.size() - off);
        m_client->send(MsgType::ExecStdin, m_stream, std::string_view(data.constData() + off, static_cast<size_t>(n)));
    }
}

void ExecHandle::closeStdin()
{
    if (!m_promise.isResolved() && m_stream)
        m_client->send(MsgType::ExecStdinEof, m_stream, {});
}

void ExecHandle::cancel()
{
    if (!m_promise.isResolved() && m_stream)
        m_client->send(MsgType::Cancel, m_stream, {});
}

void ExecHandle::onStarted(int pid)
{
    m_result.pid = pid;
    Q_EMIT started(pid);
}

void ExecHandle::onOutput(bool isStderr, const QByteArray &data)
{
    if (m_collect)
        (isStderr ? m_result.stderrData : m_result.stdoutData) += data;
    if (isStderr)
        Q_EMIT stderrReceived(data);
    else
        Q_EMIT stdoutReceived(data);
}

void ExecHandle::onExit(ExecResult r)
{
    r.pid = m_result.pid;
    r.stdoutData = std::move(m_result.stdoutData);
    r.stderrData = std::move(m_result.stderrData);
    m_result = r;
    m_promise.resolve(r);
    Q_EMIT finished(r);
}

void ExecHandle::onError(const Core::Error &e)
{
    if (m_promise.isResolved())
        return;
    m_promise.resolve(e);
    Q_EMIT failed(e);
}

} // namespace Agent
