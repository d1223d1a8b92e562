#include "core/agent/execstream.h"

#include <limits>

namespace Agent {

using Protocol::MsgType;

namespace {

// Appends what fits under max (0: everything); the rest is dropped and flagged.
void keep(QByteArray &kept, bool &truncated, const QByteArray &data, qint64 max)
{
    if (max <= 0 || kept.size() + data.size() <= max) {
        kept += data;
        return;
    }
    truncated = true;
    kept += data.left(qMax<qint64>(0, max - kept.size()));
}

} // namespace

ExecStream::ExecStream(AgentClient *client, quint32 id, const ExecRequest &request)
    : AgentStream(client, id, QStringLiteral("the command"))
    , m_collect(request.collectOutput)
    , m_maxOutput(request.limits.maxBytes)
    , m_maxStderr(request.limits.maxStderrBytes > 0 ? request.limits.maxStderrBytes : request.limits.maxBytes)
{
}

Protocol::ExecStart ExecStream::startMessage(const ExecRequest &request)
{
    Protocol::ExecStart m;
    for (const QString &a : request.argv)
        m.argv.push_back(a.toStdString());
    m.shell = request.shell.toStdString();
    for (const QString &e : request.env)
        m.env.push_back(e.toStdString());
    m.cwd = request.cwd.toStdString();
    m.timeoutMs = static_cast<std::uint32_t>(qMax(0, request.timeoutMs));
    const bool hasStdin = request.streamStdin || !request.stdinData.isEmpty();
    m.flags = (hasStdin ? Protocol::ExecStart::StdinPipe : 0u) | (request.clearEnv ? Protocol::ExecStart::ClearEnv : 0u);
    return m;
}

void ExecStream::start(const ExecRequest &request)
{
    const bool hasStdin = request.streamStdin || !request.stdinData.isEmpty();
    send(MsgType::ExecStart, startMessage(request).encode());
    // A command without a deadline still has to start within a request's.
    m_deadlineMs = deadlineMs(request);
    startDeadline(m_deadlineMs > 0 ? m_deadlineMs : StreamLimits::kRequestDeadlineMs);
    if (!request.stdinData.isEmpty())
        writeStdin(request.stdinData);
    if (hasStdin && !request.streamStdin)
        closeStdin();
}

int ExecStream::deadlineMs(const ExecRequest &request) const
{
    if (request.limits.deadlineMs > 0 || request.timeoutMs <= 0)
        return request.limits.deadlineMs;
    const qint64 ms = qint64(request.timeoutMs) + StreamLimits::kExecDeadlineGraceMs;
    return static_cast<int>(qMin<qint64>(ms, std::numeric_limits<int>::max()));
}

void ExecStream::writeStdin(const QByteArray &data)
{
    if (m_promise.isResolved() || !isActive() || m_stdinEof)
        return;
    m_stdin.append(data);
    pumpAll();
}

void ExecStream::closeStdin()
{
    if (m_promise.isResolved() || !isActive() || m_stdinEof)
        return;
    m_stdinEof = true;
    pumpAll();
}

bool ExecStream::pump()
{
    if (!isActive())
        return false;
    if (!m_stdin.isEmpty()) {
        const QByteArray chunk = m_stdin.take(dataChunk());
        send(MsgType::ExecStdin, std::string_view(chunk.constData(), static_cast<size_t>(chunk.size())));
        return true;
    }
    if (m_stdinEof && !std::exchange(m_eofSent, true))
        send(MsgType::ExecStdinEof);
    return false;
}

void ExecStream::cancel()
{
    if (!m_promise.isResolved() && isActive())
        send(MsgType::Cancel);
}

void ExecStream::abandon()
{
    m_handle = nullptr;
    if (!m_promise.isResolved() && isActive())
        abort(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("the command was abandoned")), true);
}

void ExecStream::handleFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::ExecStarted: return onStarted(payload);
    case MsgType::ExecStdout: return onOutput(false, payload);
    case MsgType::ExecStderr: return onOutput(true, payload);
    case MsgType::ExecExit: return onExit(payload);
    default: return; // nothing else belongs to an exec
    }
}

void ExecStream::onStarted(std::string_view payload)
{
    Protocol::ExecStarted m;
    if (!Protocol::ExecStarted::decode(payload, &m))
        return malformed();
    m_result.pid = m.pid;
    if (m_deadlineMs <= 0)
        stopDeadline(); // it runs as long as its caller wants
    if (m_handle)
        Q_EMIT m_handle->started(m.pid);
}

void ExecStream::onOutput(bool isStderr, std::string_view payload)
{
    const QByteArray data(payload.data(), static_cast<qsizetype>(payload.size()));
    if (m_collect) {
        if (isStderr)
            keep(m_result.stderrData, m_result.stderrTruncated, data, m_maxStderr);
        else
            keep(m_result.stdoutData, m_result.stdoutTruncated, data, m_maxOutput);
    }
    if (!m_handle)
        return;
    if (isStderr)
        Q_EMIT m_handle->stderrReceived(data);
    else
        Q_EMIT m_handle->stdoutReceived(data);
}

void ExecStream::onExit(std::string_view payload)
{
    Protocol::ExecExit m;
    if (!Protocol::ExecExit::decode(payload, &m))
        return malformed();
    end();
    ExecResult r = std::move(m_result);
    r.exitCode = m.exitCode;
    r.signal = m.signal;
    r.timedOut = m.timedOut;
    r.durationUs = static_cast<qint64>(m.durationUs);
    m_promise.resolve(r);
    if (m_handle)
        Q_EMIT m_handle->finished(r);
}

void ExecStream::failed(const Core::Error &error)
{
    if (m_promise.isResolved())
        return;
    m_promise.resolve(error);
    if (m_handle)
        Q_EMIT m_handle->failed(error);
}

} // namespace Agent
