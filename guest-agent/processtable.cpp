#include "processtable.h"

#include "session.h"
#include "util.h"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

std::uint64_t unixTimeMs()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000u;
}

// The command as reported: argv, or sh -c with the shell string, cut to
// kMaxCommandBytes in all.
std::vector<std::string> reportedCommand(const Protocol::ExecStart &request)
{
    std::vector<std::string> command = request.argv;
    if (command.empty())
        command = {"sh", "-c", request.shell};
    std::size_t left = ProcessTable::kMaxCommandBytes;
    for (auto &arg : command) {
        arg.resize(std::min(arg.size(), left));
        left -= arg.size();
    }
    return command;
}

StartFailure noSuchProcess(std::int32_t pid)
{
    return {ErrorCode::NotFound, "no background process " + std::to_string(pid)};
}

template<typename Request>
bool decodeInto(Session &session, std::uint32_t stream, std::string_view payload, Request *request)
{
    if (Request::decode(payload, request))
        return true;
    session.sendError(stream, ErrorCode::Protocol, "malformed background process request");
    return false;
}

} // namespace

struct ProcessTable::Process {
    Protocol::ProcessState state;
    std::uint64_t seq = 0;
    OutputRing output[2]{OutputRing(kOutputBytes), OutputRing(kOutputBytes)};
    UniqueFd outputFd[2];
    WatchHandle outputWatch[2];
    UniqueFd stdinFd;
    WatchHandle stdinWatch;
    std::string stdinBuffer;
    bool stdinEof = false;
    TimerHandle timeout;
};

ProcessTable::ProcessTable(EventLoop &loop)
    : m_loop(loop)
{
}

ProcessTable::~ProcessTable()
{
    for (auto &[pid, process] : m_processes) {
        if (process->state.running)
            kill(*process, SIGKILL);
    }
}

void ProcessTable::handle(Session &session, MsgType type, std::uint32_t stream, std::string_view payload)
{
    Reply failure;
    Protocol::ProcessState state;
    if (type == MsgType::ProcessStart) {
        Protocol::ExecStart request;
        if (!decodeInto(session, stream, payload, &request))
            return;
        failure = start(request, &state);
    } else if (type == MsgType::ProcessList) {
        return session.send(MsgType::ProcessListResult, stream, list().encode());
    } else if (type == MsgType::ProcessRead) {
        Protocol::ProcessRead request;
        Protocol::ProcessOutput output;
        if (!decodeInto(session, stream, payload, &request))
            return;
        if (failure = read(request, session.chunkSize(), &output); !failure)
            return session.send(MsgType::ProcessOutput, stream, output.encode());
    } else if (type == MsgType::ProcessWrite) {
        Protocol::ProcessWrite request;
        if (!decodeInto(session, stream, payload, &request))
            return;
        failure = write(request, &state);
    } else if (type == MsgType::ProcessSignal) {
        Protocol::ProcessSignal request;
        if (!decodeInto(session, stream, payload, &request))
            return;
        failure = signal(request, &state);
    } else {
        Protocol::ProcessRef request;
        if (!decodeInto(session, stream, payload, &request))
            return;
        Process *process = nullptr;
        failure = type == MsgType::ProcessRemove ? remove(request.pid, &state) : find(request.pid, &process);
        if (process)
            state = process->state;
    }
    if (failure)
        return session.sendError(stream, failure->code, failure->message);
    session.send(MsgType::ProcessInfo, stream, state.encode());
}

ProcessTable::Reply ProcessTable::find(std::int32_t pid, Process **process)
{
    const auto it = m_processes.find(pid);
    if (it == m_processes.end())
        return noSuchProcess(pid);
    *process = it->second.get();
    return std::nullopt;
}

// Room for one more: the oldest ended process is forgotten if need be.
ProcessTable::Reply ProcessTable::makeRoom()
{
    if (m_processes.size() < kMaxProcesses)
        return std::nullopt;
    auto oldest = m_processes.end();
    for (auto it = m_processes.begin(); it != m_processes.end(); ++it) {
        if (!it->second->state.running && (oldest == m_processes.end() || it->second->seq < oldest->second->seq))
            oldest = it;
    }
    if (oldest == m_processes.end())
        return StartFailure{ErrorCode::Busy,
                            "too many background processes: " + std::to_string(kMaxProcesses)
                                + " are running, the most a guest keeps; kill or delete one first"};
    m_processes.erase(oldest);
    return std::nullopt;
}

ProcessTable::Reply ProcessTable::start(const Protocol::ExecStart &request, Protocol::ProcessState *state)
{
    if (auto full = makeRoom())
        return full;
    SpawnedChild child;
    if (auto failure = spawnCommand(request, true, &child))
        return failure;
    m_processes.erase(child.pid); // an ended process whose pid came round again
    auto process = std::make_unique<Process>();
    process->seq = m_nextSeq++;
    process->state.pid = child.pid;
    process->state.command = reportedCommand(request);
    process->state.startedMs = unixTimeMs();
    Process &p = *m_processes.emplace(child.pid, std::move(process)).first->second;
    watch(p, child, request.timeoutMs);
    *state = p.state;
    return std::nullopt;
}

void ProcessTable::watch(Process &process, SpawnedChild &child, std::uint32_t timeoutMs)
{
    const pid_t pid = child.pid;
    process.outputFd[0] = std::move(child.stdoutFd);
    process.outputFd[1] = std::move(child.stderrFd);
    for (int i = 0; i < 2; ++i) {
        setNonBlocking(process.outputFd[i].get(), true);
        process.outputWatch[i] = WatchHandle(&m_loop, m_loop.addWatch(process.outputFd[i].get(), POLLIN, [this, pid, i](short) { onOutput(pid, i); }));
    }
    process.stdinFd = std::move(child.stdinFd);
    setNonBlocking(process.stdinFd.get(), true);
    process.stdinWatch = WatchHandle(&m_loop, m_loop.addWatch(process.stdinFd.get(), 0, [this, pid](short) {
        if (const auto it = m_processes.find(pid); it != m_processes.end())
            writeStdin(*it->second);
    }));
    m_loop.watchChild(pid, [this, pid](int status) { onExit(pid, status); });
    if (timeoutMs > 0)
        process.timeout.start(m_loop, timeoutMs, [this, pid] {
            if (const auto it = m_processes.find(pid); it != m_processes.end())
                kill(*it->second, SIGKILL);
        });
}

void ProcessTable::onOutput(pid_t pid, int index)
{
    if (const auto it = m_processes.find(pid); it != m_processes.end())
        readOutput(*it->second, index);
}

bool ProcessTable::readOutput(Process &process, int index)
{
    if (!process.outputFd[index].valid())
        return false;
    static char buf[kReadChunk];
    const ssize_t n = ::read(process.outputFd[index].get(), buf, sizeof buf);
    if (n > 0) {
        process.output[index].append(std::string_view(buf, static_cast<std::size_t>(n)));
        return true;
    }
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && errno == EAGAIN)
        return false;
    process.outputWatch[index].reset(); // EOF: every writer is gone
    process.outputFd[index].reset();
    return false;
}

void ProcessTable::onExit(pid_t pid, int status)
{
    const auto it = m_processes.find(pid);
    if (it == m_processes.end())
        return;
    Process &process = *it->second;
    // What it wrote before it ended is in its pipes now: take it first.
    for (int i = 0; i < 2; ++i) {
        for (std::size_t chunks = 0; chunks < kExitDrainBytes / kReadChunk && readOutput(process, i); ++chunks) {
        }
    }
    process.state.running = false;
    process.state.endedMs = unixTimeMs();
    if (WIFEXITED(status)) {
        process.state.exitCode = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        process.state.exitCode = -1;
        process.state.signal = WTERMSIG(status);
    }
    process.timeout.stop();
    closeStdin(process);
}

ProcessTable::Reply ProcessTable::read(const Protocol::ProcessRead &request, std::size_t replyLimit, Protocol::ProcessOutput *output)
{
    Process *process = nullptr;
    if (auto missing = find(request.pid, &process))
        return missing;
    const std::size_t room = replyLimit > kReplyReserve ? (replyLimit - kReplyReserve) / 2 : 0;
    const std::size_t most = request.maxBytes > 0 ? std::min<std::size_t>(request.maxBytes, room) : room;
    const OutputRing::Slice out = process->output[0].read(request.stdoutOffset, most);
    const OutputRing::Slice err = process->output[1].read(request.stderrOffset, most);
    output->state = process->state;
    output->stdoutOffset = out.next;
    output->stderrOffset = err.next;
    output->truncated = out.truncated || err.truncated;
    output->stdoutData = std::move(out.data);
    output->stderrData = std::move(err.data);
    return std::nullopt;
}

ProcessTable::Reply ProcessTable::write(const Protocol::ProcessWrite &request, Protocol::ProcessState *state)
{
    Process *process = nullptr;
    if (auto missing = find(request.pid, &process))
        return missing;
    if (!process->stdinFd.valid() || process->stdinEof) {
        *state = process->state;
        if (request.data.empty())
            return std::nullopt; // closing a closed stdin: done
        return StartFailure{ErrorCode::InvalidArgument, "the stdin of process " + std::to_string(request.pid) + " is closed"};
    }
    if (process->stdinBuffer.size() + request.data.size() > kStdinBytes)
        return StartFailure{ErrorCode::Busy,
                            "process " + std::to_string(request.pid) + " is not reading its stdin: " + std::to_string(process->stdinBuffer.size())
                                + " bytes are still waiting"};
    process->stdinBuffer += request.data;
    process->stdinEof = request.eof;
    writeStdin(*process);
    *state = process->state;
    return std::nullopt;
}

void ProcessTable::writeStdin(Process &process)
{
    while (process.stdinFd.valid() && !process.stdinBuffer.empty()) {
        const ssize_t n = ::write(process.stdinFd.get(), process.stdinBuffer.data(), process.stdinBuffer.size());
        if (n > 0) {
            process.stdinBuffer.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        closeStdin(process); // EPIPE: the process closed its stdin
        return;
    }
    if (process.stdinBuffer.empty() && process.stdinEof)
        closeStdin(process);
    updateStdinInterest(process);
}

void ProcessTable::updateStdinInterest(Process &process)
{
    if (process.stdinFd.valid())
        process.stdinWatch.setEvents(process.stdinBuffer.empty() ? 0 : POLLOUT);
}

void ProcessTable::closeStdin(Process &process)
{
    process.stdinWatch.reset();
    process.stdinFd.reset();
    process.stdinBuffer.clear();
    process.stdinBuffer.shrink_to_fit();
}

ProcessTable::Reply ProcessTable::signal(const Protocol::ProcessSignal &request, Protocol::ProcessState *state)
{
    Process *process = nullptr;
    if (auto missing = find(request.pid, &process))
        return missing;
    if (request.signal < 1 || request.signal >= NSIG)
        return StartFailure{ErrorCode::InvalidArgument, "no signal " + std::to_string(request.signal)};
    if (process->state.running)
        kill(*process, request.signal);
    *state = process->state;
    return std::nullopt;
}

void ProcessTable::kill(Process &process, int signal)
{
    const pid_t pid = process.state.pid;
    ::kill(-pid, signal); // its group: it runs in a session of its own
    ::kill(pid, signal);
}

ProcessTable::Reply ProcessTable::remove(std::int32_t pid, Protocol::ProcessState *state)
{
    Process *process = nullptr;
    if (auto missing = find(pid, &process))
        return missing;
    *state = process->state;
    if (process->state.running) {
        kill(*process, SIGKILL);
        m_loop.unwatchChild(pid); // reaped silently by the loop
    }
    m_processes.erase(pid);
    return std::nullopt;
}

Protocol::ProcessListResult ProcessTable::list() const
{
    std::vector<const Process *> byAge;
    for (const auto &[pid, process] : m_processes)
        byAge.push_back(process.get());
    std::sort(byAge.begin(), byAge.end(), [](const Process *a, const Process *b) { return a->seq < b->seq; });
    Protocol::ProcessListResult result;
    for (const Process *process : byAge)
        result.processes.push_back(process->state);
    return result;
}

} // namespace GuestAgent
