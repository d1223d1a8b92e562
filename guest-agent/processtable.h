#pragma once
// Background processes (ProcessStart ... ProcessRemove): commands that run
// on after the request that started them, owned by the agent rather than
// by a stream or a session, so a host that goes away (or greets the agent
// again) finds them still there. Each keeps its last kOutputBytes of stdout
// and of stderr in rings read by offset, takes stdin as it is written, and
// is remembered after it ends until removed. Everything is bounded: at most
// kMaxProcesses (an ended one is forgotten to make room for a new one),
// kStdinBytes of stdin not yet taken, kMaxCommandBytes of command reported.

#include "eventloop.h"
#include "outputring.h"
#include "spawn.h"
#include "uniquefd.h"

#include "protocol/messages.h"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace GuestAgent {

class Session;

class ProcessTable {
public:
    static constexpr std::size_t kMaxProcesses = 32;
    static constexpr std::size_t kOutputBytes = 1u << 20; // per stream
    static constexpr std::size_t kStdinBytes = 1u << 20;
    static constexpr std::size_t kMaxCommandBytes = 4096;
    static constexpr std::size_t kReadChunk = 64u * 1024u;
    // At its exit, what the process left in its pipes is taken before it
    // counts as ended (a reader that sees "ended" sees all it wrote), at
    // most this much: a child it left behind may still be writing.
    static constexpr std::size_t kExitDrainBytes = 1024u * 1024u;
    // A ProcessRead reply leaves this much of the host's maximum payload for
    // the process's state and the framing.
    static constexpr std::size_t kReplyReserve = kMaxCommandBytes + 1024;

    explicit ProcessTable(EventLoop &loop);
    ~ProcessTable(); // kills every running process group
    ProcessTable(const ProcessTable &) = delete;
    ProcessTable &operator=(const ProcessTable &) = delete;

    // One request of the session (a Process* message type): decoded, done,
    // and answered on its stream.
    void handle(Session &session, Protocol::MsgType type, std::uint32_t stream, std::string_view payload);

    std::size_t size() const { return m_processes.size(); }

private:
    struct Process;
    using Reply = std::optional<StartFailure>;

    Reply start(const Protocol::ExecStart &request, Protocol::ProcessState *state);
    Reply read(const Protocol::ProcessRead &request, std::size_t replyLimit, Protocol::ProcessOutput *output);
    Reply write(const Protocol::ProcessWrite &request, Protocol::ProcessState *state);
    Reply signal(const Protocol::ProcessSignal &request, Protocol::ProcessState *state);
    Reply remove(std::int32_t pid, Protocol::ProcessState *state);
    Reply find(std::int32_t pid, Process **process);
    Reply makeRoom();
    Protocol::ProcessListResult list() const;

    void watch(Process &process, SpawnedChild &child, std::uint32_t timeoutMs);
    void onOutput(pid_t pid, int index);
    // One read of the pipe into the ring; false once nothing more is there
    // now (EAGAIN) or ever (EOF: the pipe is closed).
    static bool readOutput(Process &process, int index);
    void onExit(pid_t pid, int status);
    void writeStdin(Process &process);
    void closeStdin(Process &process);
    void updateStdinInterest(Process &process);
    void kill(Process &process, int signal);

    EventLoop &m_loop;
    std::uint64_t m_nextSeq = 1;
    std::map<pid_t, std::unique_ptr<Process>> m_processes;
};

} // namespace GuestAgent
