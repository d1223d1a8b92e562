#include "execstream.h"

#include "session.h"
#include "util.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

extern char **environ;

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

constexpr const char *kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// After a kill, how long to wait for the pipes to hit EOF once the process
// itself is gone (a member that escaped the group may still hold them).
constexpr std::uint64_t kPipeGraceMs = 200;

enum class ChildStage : int { Chdir = 1, Exec = 2, Setup = 3 };

struct ChildReport {
    int stage = 0;
    int err = 0;
};

[[noreturn]] void childFail(int statusFd, ChildStage stage, int err)
{
    ChildReport report{static_cast<int>(stage), err};
    [[maybe_unused]] const ssize_t n = ::write(statusFd, &report, sizeof report);
    ::_exit(127);
}

std::string envName(const std::string &entry)
{
    return entry.substr(0, entry.find('='));
}

} // namespace

ExecStream::ExecStream(Session &session, std::uint32_t id) : Stream(session, id)
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
    // ---- validate and prepare everything the child needs before fork()
    if (request.argv.empty() && request.shell.empty())
        return fail(ErrorCode::InvalidArgument, "empty command: give argv or shell");
    bool nul = hasNul(request.shell) || hasNul(request.cwd);
    for (const auto &a : request.argv)
        nul = nul || hasNul(a);
    for (const auto &e : request.env)
        nul = nul || hasNul(e);
    if (nul)
        return fail(ErrorCode::InvalidArgument, "command, environment or cwd contains a NUL byte");

    std::vector<std::string> env;
    if (!(request.flags & Protocol::ExecStart::ClearEnv)) {
        for (char **e = environ; e && *e; ++e)
            env.emplace_back(*e);
    }
    for (const auto &entry : request.env) {
        if (entry.find('=') == std::string::npos || entry.front() == '=')
            return fail(ErrorCode::InvalidArgument, "environment entry \"" + entry + "\" is not NAME=value");
        const std::string name = envName(entry);
        bool replaced = false;
        for (auto &existing : env) {
            if (envName(existing) == name) {
                existing = entry;
                replaced = true;
            }
        }
        if (!replaced)
            env.push_back(entry);
    }
    bool hasPath = false;
    for (const auto &e : env)
        hasPath = hasPath || envName(e) == "PATH";
    if (!hasPath)
        env.emplace_back(kDefaultPath);

    std::vector<std::string> args = request.argv;
    std::string file;
    if (args.empty()) {
        args = {"sh", "-c", request.shell};
        file = "/bin/sh";
    } else {
        file = args.front();
    }
    const std::string cwd = request.cwd.empty() ? std::string("/") : request.cwd;

    // The child is created with vfork() (no page-table copy: much cheaper
    // under TCG), so it may only call execve: resolve the program against
    // the *child's* PATH here, in the parent.
    if (file.find('/') == std::string::npos) {
        std::string path;
        for (const auto &e : env)
            if (envName(e) == "PATH")
                path = e.substr(5);
        std::string found;
        int lastErr = ENOENT;
        for (std::size_t start = 0; start <= path.size();) {
            const std::size_t end = std::min(path.find(':', start), path.size());
            const std::string dir = end > start ? path.substr(start, end - start) : std::string(".");
            const std::string candidate = dir + "/" + file;
            if (::access(candidate.c_str(), X_OK) == 0) {
                struct stat st {};
                if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
                    found = candidate;
                    break;
                }
            } else if (errno == EACCES) {
                lastErr = EACCES;
            }
            start = end + 1;
        }
        if (found.empty())
            return fail(lastErr == EACCES ? ErrorCode::PermissionDenied : ErrorCode::NotFound,
                        errnoMessage("exec", file, lastErr));
        file = found;
    }

    std::vector<char *> argvPtrs;
    for (auto &a : args)
        argvPtrs.push_back(a.data());
    argvPtrs.push_back(nullptr);
    std::vector<char *> envPtrs;
    for (auto &e : env)
        envPtrs.push_back(e.data());
    envPtrs.push_back(nullptr);

    // ---- pipes
    int outPipe[2] = {-1, -1};
    int errPipe[2] = {-1, -1};
    int inPipe[2] = {-1, -1};
    int statusPipe[2] = {-1, -1};
    const bool stdinPipe = request.flags & Protocol::ExecStart::StdinPipe;
    const auto closeAll = [&] {
        for (int *p : {outPipe, errPipe, inPipe, statusPipe}) {
            for (int i = 0; i < 2; ++i) {
                if (p[i] >= 0)
                    ::close(p[i]);
                p[i] = -1;
            }
        }
    };
    if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0 || ::pipe2(inPipe, O_CLOEXEC) != 0
        || ::pipe2(statusPipe, O_CLOEXEC) != 0) {
        const int err = errno;
        closeAll();
        return fail(ErrorCode::Io, errnoMessage("pipe", {}, err));
    }
    if (!stdinPipe) {
        // stdin reads /dev/null; an empty pipe whose writer is closed if
        // there is no /dev/null in this initramfs.
        const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devNull >= 0) {
            ::close(inPipe[0]);
            inPipe[0] = devNull;
        }
        ::close(inPipe[1]);
        inPipe[1] = -1;
    }

    m_startUs = monotonicUs();
    const pid_t pid = ::vfork();
    if (pid < 0) {
        const int err = errno;
        closeAll();
        return fail(ErrorCode::Io, errnoMessage("vfork", {}, err));
    }

    if (pid == 0) {
        // ---- child: async-signal-safe calls only
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGPIPE, SIGHUP})
            ::sigaction(sig, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);

        const int statusFd = statusPipe[1];
        if (::setsid() < 0)
            childFail(statusFd, ChildStage::Setup, errno);
        if (::chdir(cwd.c_str()) != 0)
            childFail(statusFd, ChildStage::Chdir, errno);
        // fds 0-2 are always open in the agent (main makes sure), so every
        // pipe end is >= 3 and the dup2s below cannot clobber each other.
        if (::dup2(inPipe[0], 0) < 0 || ::dup2(outPipe[1], 1) < 0 || ::dup2(errPipe[1], 2) < 0)
            childFail(statusFd, ChildStage::Setup, errno);
        if (statusFd != 3 && ::dup2(statusFd, 3) < 0)
            childFail(statusFd, ChildStage::Setup, errno);
        ::fcntl(3, F_SETFD, FD_CLOEXEC);
        if (::close_range(4, ~0u, 0) != 0) {
            // Kernels before 5.9 have no close_range: close up to the limit.
            rlimit nofile{};
            const int maxFd = (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536)
                                  ? static_cast<int>(nofile.rlim_cur)
                                  : 65536;
            for (int fd = 4; fd < maxFd; ++fd)
                ::close(fd);
        }
        ::execve(file.c_str(), argvPtrs.data(), envPtrs.data());
        childFail(3, ChildStage::Exec, errno);
    }

    // ---- parent
    ::close(outPipe[1]);
    ::close(errPipe[1]);
    ::close(inPipe[0]);
    ::close(statusPipe[1]);
    outPipe[1] = errPipe[1] = inPipe[0] = statusPipe[1] = -1;

    ChildReport report;
    ssize_t got = 0;
    do {
        got = ::read(statusPipe[0], &report, sizeof report);
    } while (got < 0 && errno == EINTR);
    ::close(statusPipe[0]);
    statusPipe[0] = -1;

    if (got == static_cast<ssize_t>(sizeof report)) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        closeAll();
        const auto stage = static_cast<ChildStage>(report.stage);
        const int err = report.err;
        ErrorCode code = ErrorCode::ExecFailed;
        if (err == ENOENT)
            code = ErrorCode::NotFound;
        else if (err == EACCES || err == EPERM)
            code = ErrorCode::PermissionDenied;
        else if (err == ENOTDIR)
            code = ErrorCode::NotDirectory;
        if (stage == ChildStage::Chdir)
            return fail(code, errnoMessage("chdir", cwd, err));
        if (stage == ChildStage::Exec)
            return fail(code, errnoMessage("exec", file, err));
        return fail(ErrorCode::ExecFailed, errnoMessage("setting up the child", {}, err));
    }

    m_pid = pid;
    m_session.loop().watchChild(pid, [this](int status) { onChildExit(status); });

    m_output[0].fd.reset(outPipe[0]);
    m_output[1].fd.reset(errPipe[0]);
    outPipe[0] = errPipe[0] = -1;
    for (int i = 0; i < 2; ++i) {
        setNonBlocking(m_output[i].fd.get(), true);
        m_output[i].watch = WatchHandle(&m_session.loop(), m_session.loop().addWatch(m_output[i].fd.get(), 0,
                                                                                      [this, i](short) { onOutput(i); }));
    }
    if (stdinPipe) {
        m_stdin.reset(inPipe[1]);
        inPipe[1] = -1;
        setNonBlocking(m_stdin.get(), true);
        m_stdinWatch = WatchHandle(&m_session.loop(),
                                   m_session.loop().addWatch(m_stdin.get(), 0, [this](short) { writeStdin(); }));
    }

    Protocol::ExecStarted started;
    started.pid = pid;
    m_session.send(MsgType::ExecStarted, m_id, started.encode());

    if (request.timeoutMs > 0) {
        m_timeout.start(m_session.loop(), request.timeoutMs, [this] {
            m_timedOut = true;
            killGroup();
        });
    }
    updateInterest();
}

void ExecStream::updateInterest()
{
    const bool congested = m_session.congested();
    for (auto &out : m_output) {
        if (out.fd.valid())
            out.watch.setEvents(congested ? 0 : POLLIN);
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
    const ssize_t n = ::read(out.fd.get(), buf, std::min(sizeof buf, m_session.chunkSize()));
    if (n > 0) {
        m_session.send(out.type, m_id, std::string_view(buf, static_cast<std::size_t>(n)));
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
    }
    maybeFinish();
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
    default:
        fail(ErrorCode::Protocol, "unexpected message type " + std::to_string(static_cast<int>(type))
                                      + " on an exec stream");
        return;
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
    killGroup();
    maybeFinish();
}

void ExecStream::release()
{
    if (m_released)
        return;
    m_released = true;
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
