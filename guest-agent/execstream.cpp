#include "execstream.h"

#include "pipedrain.h"
#include "session.h"
#include "spawn.h"
#include "util.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

// After a kill, how long to wait for the pipes to hit EOF once the process
// itself is gone (a member that escaped the group may still hold them).
constexpr std::uint64_t kPipeGraceMs = 200;

// Bytes waiting in a pipe (0 when unknown).
std::size_t pendingBytes(int fd)
{
    int n = 0;
    return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? static_cast<std::size_t>(n) : 0;
}

} // namespace

ExecStream::ExecStream(Session &session, std::uint32_t id)
    : Stream(session, id)
{
    m_output[0].type = MsgType::ExecStdout;
    m_output[1].type = MsgType::ExecStderr;
}

ExecStream::~ExecStream()
{
    release();
}

void ExecStream::fail(ErrorCode code, const std::string &message)
{
    release(); // clean up before the host hears about it
    m_session.sendError(m_id, code, message);
    m_session.finishStream(m_id);
}

void ExecStream::start(const Protocol::ExecStart &request)
{
    const bool stdinPipe = request.flags & Protocol::ExecStart::StdinPipe;
    SpawnedChild child;
    m_startUs = monotonicUs();
    if (auto failure = spawnCommand(request, stdinPipe, &child))
        return fail(failure->code, failure->message);

    m_pid = child.pid;
    m_session.loop().watchChild(m_pid, [this](int status) { onChildExit(status); });
    watchOutput(std::move(child.stdoutFd), std::move(child.stderrFd));
    if (stdinPipe)
        watchStdin(std::move(child.stdinFd));
    announceStarted(request.timeoutMs);
}

void ExecStream::watchOutput(UniqueFd stdoutFd, UniqueFd stderrFd)
{
    m_output[0].fd = std::move(stdoutFd);
    m_output[1].fd = std::move(stderrFd);
    for (int i = 0; i < 2; ++i) {
        setNonBlocking(m_output[i].fd.get(), true);
        m_output[i].watch = WatchHandle(&m_session.loop(), m_session.loop().addWatch(m_output[i].fd.get(), 0, [this, i](short) { onOutput(i); }));
    }
}

void ExecStream::watchStdin(UniqueFd stdinFd)
{
    m_stdin = std::move(stdinFd);
    setNonBlocking(m_stdin.get(), true);
    m_stdinWatch = WatchHandle(&m_session.loop(), m_session.loop().addWatch(m_stdin.get(), 0, [this](short) { writeStdin(); }));
}

// Tells the host the pid and arms the timeout.
void ExecStream::announceStarted(std::uint32_t timeoutMs)
{
    Protocol::ExecStarted started;
    started.pid = m_pid;
    m_session.send(MsgType::ExecStarted, m_id, started.encode());

    if (timeoutMs > 0) {
        m_timeout.start(m_session.loop(), timeoutMs, [this] {
            m_timedOut = true;
            killGroup();
        });
    }
    updateInterest();
}

void ExecStream::updateInterest()
{
    // Stopped while the channel is congested or this stream's credit is spent.
    const bool stopped = m_session.congested() || !hasCredit();
    for (auto &out : m_output) {
        if (out.fd.valid())
            out.watch.setEvents(stopped ? 0 : POLLIN);
    }
    if (m_stdin.valid())
        m_stdinWatch.setEvents(inboundBuffered() > 0 ? POLLOUT : 0);
}

void ExecStream::outputResumed()
{
    updateInterest();
}

void ExecStream::onOutput(int index)
{
    Pipe &out = m_output[index];
    if (!out.fd.valid())
        return;
    static char buf[Protocol::kDataChunk];
    std::size_t max = sendable(std::min(sizeof buf, m_session.chunkSize()));
    if (m_graceOver)
        max = std::min(max, out.tail);
    if (max == 0) {
        updateInterest(); // no credit: wait for StreamCredit
        return;
    }
    const ssize_t n = ::read(out.fd.get(), buf, max);
    if (n > 0) {
        spendCredit(static_cast<std::size_t>(n));
        m_session.send(out.type, m_id, std::string_view(buf, static_cast<std::size_t>(n)));
        if (m_graceOver) {
            out.tail -= std::min(out.tail, static_cast<std::size_t>(n));
            if (out.tail == 0) {
                handOff(index);
                return maybeFinish();
            }
        }
        if (!m_released)
            updateInterest();
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    closeOutput(index); // EOF (or an error, treated alike)
    maybeFinish();
}

void ExecStream::closeOutput(int index)
{
    m_output[index].watch.reset();
    m_output[index].fd.reset();
}

void ExecStream::onChildExit(int status)
{
    m_exited = true;
    m_status = status;
    m_durationUs = monotonicUs() - m_startUs;
    if (m_killed) {
        // The group was killed: do not wait for stragglers outside it.
        m_grace.start(m_session.loop(), kPipeGraceMs, [this] {
            closeOutput(0);
            closeOutput(1);
            maybeFinish();
        });
    } else {
        // The main process is done: its background children keep running
        // (and may keep the pipes open). Output still coming is taken for
        // kOutputGraceMs, then the exit is reported.
        m_timeout.stop();
        m_grace.start(m_session.loop(), kOutputGraceMs, [this] { endGrace(); });
    }
    maybeFinish();
}

// The grace is over: what is in the pipes now is still sent (as credit
// allows), then each pipe goes to the agent's drain, which reads and
// discards whatever the background children write after.
void ExecStream::endGrace()
{
    m_graceOver = true;
    for (int i = 0; i < 2; ++i) {
        Pipe &out = m_output[i];
        if (!out.fd.valid())
            continue;
        out.tail = pendingBytes(out.fd.get());
        if (out.tail == 0)
            handOff(i);
    }
    maybeFinish();
}

void ExecStream::handOff(int index)
{
    m_output[index].watch.reset();
    m_session.drain().adopt(std::move(m_output[index].fd));
}

void ExecStream::killGroup()
{
    if (m_pid <= 0)
        return;
    m_killed = true;
    ::kill(-m_pid, SIGKILL);
    if (!m_exited)
        ::kill(m_pid, SIGKILL); // in case setsid() had not happened yet
    closeStdin();
    if (m_exited && !m_grace.active()) {
        m_grace.start(m_session.loop(), kPipeGraceMs, [this] {
            closeOutput(0);
            closeOutput(1);
            maybeFinish();
        });
    }
}

void ExecStream::maybeFinish()
{
    if (m_released || !m_exited || m_output[0].fd.valid() || m_output[1].fd.valid())
        return;
    Protocol::ExecExit result;
    if (WIFEXITED(m_status)) {
        result.exitCode = WEXITSTATUS(m_status);
    } else if (WIFSIGNALED(m_status)) {
        result.exitCode = -1;
        result.signal = WTERMSIG(m_status);
    }
    result.timedOut = m_timedOut;
    result.durationUs = m_durationUs;
    m_session.send(MsgType::ExecExit, m_id, result.encode());
    m_pid = -1; // reaped and done: nothing left to kill
    m_session.finishStream(m_id);
}

void ExecStream::handleFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::ExecStdin:
        if (!m_stdin.valid() || m_stdinEofRequested)
            return; // no stdin pipe, or it is gone: drop
        if (m_stdinOffset > 0 && m_stdinOffset == m_stdinBuffer.size()) {
            m_stdinBuffer.clear();
            m_stdinOffset = 0;
        }
        m_stdinBuffer.append(payload.data(), payload.size());
        writeStdin();
        return;
    case MsgType::ExecStdinEof:
        m_stdinEofRequested = true;
        if (inboundBuffered() == 0)
            closeStdin();
        return;
    default: fail(ErrorCode::Protocol, "unexpected message type " + std::to_string(static_cast<int>(type)) + " on an exec stream"); return;
    }
}

void ExecStream::writeStdin()
{
    while (m_stdin.valid() && inboundBuffered() > 0) {
        const ssize_t n = ::write(m_stdin.get(), m_stdinBuffer.data() + m_stdinOffset, inboundBuffered());
        if (n > 0) {
            m_stdinOffset += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        closeStdin(); // EPIPE: the child closed its stdin; drop the rest
        break;
    }
    if (inboundBuffered() == 0) {
        m_stdinBuffer.clear();
        m_stdinOffset = 0;
        if (m_stdinEofRequested)
            closeStdin();
    } else if (m_stdinOffset > (1u << 20)) {
        m_stdinBuffer.erase(0, m_stdinOffset);
        m_stdinOffset = 0;
    }
    if (!m_released)
        updateInterest();
    m_session.inboundChanged();
}

void ExecStream::closeStdin()
{
    m_stdinWatch.reset();
    m_stdin.reset();
    m_stdinBuffer.clear();
    m_stdinOffset = 0;
}

void ExecStream::cancel()
{
    if (m_exited && !m_output[0].fd.valid() && !m_output[1].fd.valid())
        return;
    if (m_exited && !m_killed) {
        // Only background children are left: they keep running.
        m_grace.stop();
        handOff(0);
        handOff(1);
        return maybeFinish();
    }
    killGroup();
    maybeFinish();
}

void ExecStream::release()
{
    if (m_released)
        return;
    m_released = true;
    if (m_pid > 0 && m_exited && !m_killed) {
        // Released during the grace (the host went away): the command is
        // done, its background children stay.
        handOff(0);
        handOff(1);
        m_pid = -1;
    }
    if (m_pid > 0) {
        ::kill(-m_pid, SIGKILL);
        if (!m_exited) {
            ::kill(m_pid, SIGKILL);
            m_session.loop().unwatchChild(m_pid); // reaped silently by the loop
        }
        m_pid = -1;
    }
    m_timeout.stop();
    m_grace.stop();
    closeOutput(0);
    closeOutput(1);
    closeStdin();
}

} // namespace GuestAgent
