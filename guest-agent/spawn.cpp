#include "spawn.h"

#include "util.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

extern char **environ;

namespace GuestAgent {

using Protocol::ErrorCode;

namespace {

constexpr const char *kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

// Everything the child needs, resolved in the parent: a vfork()ed child may
// only call execve.
struct Command {
    std::string file;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
};

MaybeFailure checkRequest(const Protocol::ExecStart &request)
{
    if (request.argv.empty() && request.shell.empty())
        return StartFailure{ErrorCode::InvalidArgument, "empty command: give argv or shell"};
    bool nul = hasNul(request.shell) || hasNul(request.cwd);
    for (const auto &a : request.argv)
        nul = nul || hasNul(a);
    for (const auto &e : request.env)
        nul = nul || hasNul(e);
    if (nul)
        return StartFailure{ErrorCode::InvalidArgument, "command, environment or cwd contains a NUL byte"};
    return std::nullopt;
}

// The agent's environment (unless ClearEnv) with the request's entries laid
// over it, and a default PATH if neither has one.
MaybeFailure buildEnvironment(const Protocol::ExecStart &request, std::vector<std::string> &env)
{
    if (!(request.flags & Protocol::ExecStart::ClearEnv)) {
        for (char **e = environ; e && *e; ++e)
            env.emplace_back(*e);
    }
    for (const auto &entry : request.env) {
        if (entry.find('=') == std::string::npos || entry.front() == '=')
            return StartFailure{ErrorCode::InvalidArgument, "environment entry \"" + entry + "\" is not NAME=value"};
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
    return std::nullopt;
}

// Resolves a program name without a '/' against the *child's* PATH, the way
// execvp would, since the vfork()ed child cannot.
MaybeFailure resolveProgram(const std::vector<std::string> &env, std::string &file)
{
    if (file.find('/') != std::string::npos)
        return std::nullopt;
    std::string path;
    for (const auto &e : env)
        if (envName(e) == "PATH")
            path = e.substr(5);
    int lastErr = ENOENT;
    for (std::size_t start = 0; start <= path.size();) {
        const std::size_t end = std::min(path.find(':', start), path.size());
        const std::string dir = end > start ? path.substr(start, end - start) : std::string(".");
        const std::string candidate = dir + "/" + file;
        if (::access(candidate.c_str(), X_OK) == 0) {
            struct stat st { };
            if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
                file = candidate;
                return std::nullopt;
            }
        } else if (errno == EACCES) {
            lastErr = EACCES;
        }
        start = end + 1;
    }
    return StartFailure{lastErr == EACCES ? ErrorCode::PermissionDenied : ErrorCode::NotFound, errnoMessage("exec", file, lastErr)};
}

MaybeFailure prepareCommand(const Protocol::ExecStart &request, Command &command)
{
    if (auto failure = checkRequest(request))
        return failure;
    if (auto failure = buildEnvironment(request, command.env))
        return failure;
    command.args = request.argv;
    if (command.args.empty()) {
        command.args = {"sh", "-c", request.shell};
        command.file = "/bin/sh";
    } else {
        command.file = command.args.front();
    }
    command.cwd = request.cwd.empty() ? std::string("/") : request.cwd;
    return resolveProgram(command.env, command.file);
}

// The pipes between the agent and the child: stdout, stderr, stdin, and a
// close-on-exec status pipe on which the child reports a failed setup or exec.
// Whatever end is still held is closed on destruction.
struct ChildPipes {
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    int in[2] = {-1, -1};
    int status[2] = {-1, -1};

    ChildPipes() = default;
    ChildPipes(const ChildPipes &) = delete;
    ChildPipes &operator=(const ChildPipes &) = delete;
    ~ChildPipes() { closeAll(); }

    // 0, or the errno of the pipe2() that failed (then nothing is left open).
    int open(bool stdinPipe)
    {
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(status, O_CLOEXEC) != 0) {
            const int error = errno;
            closeAll();
            return error;
        }
        if (!stdinPipe) {
            // stdin reads /dev/null; an empty pipe whose writer is closed if
            // there is no /dev/null in this initramfs.
            const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (devNull >= 0) {
                ::close(in[0]);
                in[0] = devNull;
            }
            ::close(in[1]);
            in[1] = -1;
        }
        return 0;
    }

    // In the parent once the child has them.
    void closeChildEnds()
    {
        for (int *fd : {&out[1], &err[1], &in[0], &status[1]}) {
            ::close(*fd);
            *fd = -1;
        }
    }

    void closeAll()
    {
        for (int *p : {out, err, in, status}) {
            for (int i = 0; i < 2; ++i) {
                if (p[i] >= 0)
                    ::close(p[i]);
                p[i] = -1;
            }
        }
    }
};

UniqueFd takeFd(int &fd)
{
    UniqueFd owned(fd);
    fd = -1;
    return owned;
}

std::vector<char *> nullTerminated(std::vector<std::string> &strings)
{
    std::vector<char *> pointers;
    for (auto &s : strings)
        pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Child side: default signal dispositions, nothing blocked.
void resetChildSignals()
{
    struct sigaction dfl { };
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGPIPE, SIGHUP})
        ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Child side: closes every fd from 4 up.
void closeFdsAbove3()
{
    if (::close_range(4, ~0u, 0) == 0)
        return;
    // Kernels before 5.9 have no close_range: close up to the limit.
    rlimit nofile{};
    const int maxFd = (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536) ? static_cast<int>(nofile.rlim_cur) : 65536;
    for (int fd = 4; fd < maxFd; ++fd)
        ::close(fd);
}

// The vfork()ed child: async-signal-safe calls only; never returns.
[[noreturn]] void runChild(const ChildPipes &pipes, const char *file, const char *cwd, char *const argv[], char *const envp[])
{
    resetChildSignals();
    const int statusFd = pipes.status[1];
    if (::setsid() < 0)
        childFail(statusFd, ChildStage::Setup, errno);
    if (::chdir(cwd) != 0)
        childFail(statusFd, ChildStage::Chdir, errno);
    // fds 0-2 are always open in the agent (main makes sure), so every
    // pipe end is >= 3 and the dup2s below cannot clobber each other.
    if (::dup2(pipes.in[0], 0) < 0 || ::dup2(pipes.out[1], 1) < 0 || ::dup2(pipes.err[1], 2) < 0)
        childFail(statusFd, ChildStage::Setup, errno);
    if (statusFd != 3 && ::dup2(statusFd, 3) < 0)
        childFail(statusFd, ChildStage::Setup, errno);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    closeFdsAbove3();
    ::execve(file, argv, envp);
    childFail(3, ChildStage::Exec, errno);
}

struct Spawned {
    pid_t pid = -1;
    int err = 0; // errno of a failed vfork()
};

// The child is created with vfork() (no page-table copy: much cheaper under
// TCG); the parent resumes once it has exec'ed or exited.
Spawned spawnChild(Command &command, const ChildPipes &pipes)
{
    std::vector<char *> argv = nullTerminated(command.args);
    std::vector<char *> envp = nullTerminated(command.env);
    const pid_t pid = ::vfork();
    if (pid == 0)
        runChild(pipes, command.file.c_str(), command.cwd.c_str(), argv.data(), envp.data());
    return {pid, pid < 0 ? errno : 0};
}

StartFailure childFailure(const ChildReport &report, const Command &command)
{
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
        return {code, errnoMessage("chdir", command.cwd, err)};
    if (stage == ChildStage::Exec)
        return {code, errnoMessage("exec", command.file, err)};
    return {ErrorCode::ExecFailed, errnoMessage("setting up the child", {}, err)};
}

// Reads the status pipe until the child's exec closes it. A ChildReport on it
// means setup or exec failed: the child is reaped and every pipe closed.
MaybeFailure awaitExec(pid_t pid, ChildPipes &pipes, const Command &command)
{
    ChildReport report;
    ssize_t got = 0;
    do {
        got = ::read(pipes.status[0], &report, sizeof report);
    } while (got < 0 && errno == EINTR);
    ::close(pipes.status[0]);
    pipes.status[0] = -1;
    if (got != static_cast<ssize_t>(sizeof report))
        return std::nullopt;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pipes.closeAll();
    return childFailure(report, command);
}

} // namespace

MaybeFailure spawnCommand(const Protocol::ExecStart &request, bool stdinPipe, SpawnedChild *child)
{
    Command command;
    if (auto failure = prepareCommand(request, command))
        return failure;
    ChildPipes pipes;
    if (const int err = pipes.open(stdinPipe))
        return StartFailure{ErrorCode::Io, errnoMessage("pipe", {}, err)};
    const Spawned spawned = spawnChild(command, pipes);
    if (spawned.pid < 0) {
        pipes.closeAll();
        return StartFailure{ErrorCode::Io, errnoMessage("vfork", {}, spawned.err)};
    }
    pipes.closeChildEnds();
    if (auto failure = awaitExec(spawned.pid, pipes, command))
        return failure;
    child->pid = spawned.pid;
    child->stdoutFd = takeFd(pipes.out[0]);
    child->stderrFd = takeFd(pipes.err[0]);
    if (stdinPipe)
        child->stdinFd = takeFd(pipes.in[1]);
    return std::nullopt;
}

} // namespace GuestAgent
