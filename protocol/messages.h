#pragma once
// Messages of the guest-agent protocol (version 2).
//
// Conversation:
//  - The agent sends Announce on stream 0 whenever it (re)opens its channel.
//  - The host sends Hello on stream 0 with a fresh nonce: on connecting, on
//    an Announce (at most one per AgentClient::kMinHelloIntervalMs), and (as
//    a safety net) periodically until it sees the
//    HelloAck that echoes its latest nonce. The agent answers every Hello with
//    HelloAck carrying the same nonce. A Hello always starts a fresh session:
//    the agent cancels every stream of the previous one (kills its processes,
//    closes its files). The host sends no operation before the HelloAck of
//    its latest Hello, so a stale queued Hello can never cut one short.
//  - Every operation runs on its own stream id, chosen by the host (non-zero,
//    unique within the session). Many streams run at once on one connection.
//  - Any request may be answered with Error on its stream, which ends it.
//  - Cancel from the host ends a stream early (kills an exec's process
//    group, aborts a transfer); the agent answers with the stream's normal
//    end (ExecExit / Error with code Cancelled).
//  - Flow control: the agent's data on a stream (ExecStdout, ExecStderr,
//    FileData, StreamData payload bytes) is limited by that stream's credit,
//    kStreamWindow when the stream starts. The host returns credit with
//    StreamCredit on the stream as its consumer takes the bytes (in
//    kCreditBatch batches) and withholds it while the consumer is behind:
//    the agent then stops reading that stream's source (pipe, file, socket)
//    while every other stream goes on. An agent that sends more than its
//    credit fails that stream only (the host cancels it). Stream 0 and the
//    other messages are never credit-limited; the host's data to the agent
//    is paced by the channel itself.
//
// Operations (host -> agent, then agent -> host):
//  exec:  ExecStart, [ExecStdin..., ExecStdinEof]  ->  ExecStarted, ExecStdout/ExecStderr..., ExecExit
//  put:   FilePut, FileData..., FileEnd             ->  FilePutDone
//  get:   FileGet                                   ->  FileGetInfo, FileData..., FileEnd
//  stat:  Stat                                      ->  StatResult
//  list:  List                                      ->  ListResult
//  health: Health                                   ->  HealthResult
//  forward: StreamOpen                              ->  StreamOpened, StreamData... both ways, StreamClose either way
//  shutdown: Shutdown (stream 0 or any)            ->  (the guest powers off or reboots)
//  processes: ProcessStart, ProcessList, ProcessStatus, ProcessRead,
//         ProcessWrite, ProcessSignal, ProcessRemove  ->  one reply each.
//         A background process belongs to the agent, not to a stream or a
//         session: it runs on after its request (and a new Hello), its
//         output kept in bounded rings that the host reads by offset.

#include "protocol/wire.h"

#include <cstdint>
#include <string>
#include <vector>

namespace Protocol {

enum class MsgType : std::uint8_t {
    Hello = 1,
    HelloAck = 2,
    Announce = 3,
    Error = 4,
    Cancel = 5,
    StreamCredit = 6, // host -> agent, on the stream it grants credit to

    ExecStart = 16,
    ExecStdin = 17,
    ExecStdinEof = 18,
    ExecStdout = 19,
    ExecStderr = 20,
    ExecExit = 21,
    ExecStarted = 22,

    FilePut = 32,
    FileData = 33,
    FileEnd = 34,
    FilePutDone = 35,
    FileGet = 36,
    FileGetInfo = 37,

    Stat = 48,
    StatResult = 49,
    List = 50,
    ListResult = 51,

    Health = 64,
    HealthResult = 65,

    Shutdown = 80,

    StreamOpen = 96,
    StreamOpened = 97,
    StreamData = 98,
    StreamClose = 99,

    // Background processes: requests with one reply each (see below).
    ProcessStart = 112, // ExecStart            -> ProcessInfo
    ProcessInfo = 113,
    ProcessList = 114, // (empty)               -> ProcessListResult
    ProcessListResult = 115,
    ProcessStatus = 116, // ProcessRef          -> ProcessInfo
    ProcessRead = 117, // ProcessRead           -> ProcessOutput
    ProcessOutput = 118,
    ProcessWrite = 119, // ProcessWrite         -> ProcessInfo
    ProcessSignal = 120, // ProcessSignal       -> ProcessInfo
    ProcessRemove = 121, // ProcessRef          -> ProcessInfo (as it was)
};

enum class ErrorCode : std::uint32_t {
    None = 0,
    NotFound = 1,
    PermissionDenied = 2,
    InvalidArgument = 3,
    Io = 4,
    ExecFailed = 5,
    Unsupported = 6,
    Busy = 7,
    Protocol = 8,
    TooLarge = 9,
    IsDirectory = 10,
    NotDirectory = 11,
    Cancelled = 12,
    NoSpace = 13,
    ConnectionRefused = 14,
    Exists = 15,
    Internal = 16,
};

inline const char *errorCodeName(ErrorCode c)
{
    switch (c) {
    case ErrorCode::None: return "none";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::PermissionDenied: return "permission_denied";
    case ErrorCode::InvalidArgument: return "invalid_argument";
    case ErrorCode::Io: return "io";
    case ErrorCode::ExecFailed: return "exec_failed";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Busy: return "busy";
    case ErrorCode::Protocol: return "protocol";
    case ErrorCode::TooLarge: return "too_large";
    case ErrorCode::IsDirectory: return "is_directory";
    case ErrorCode::NotDirectory: return "not_directory";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::NoSpace: return "no_space";
    case ErrorCode::ConnectionRefused: return "connection_refused";
    case ErrorCode::Exists: return "exists";
    case ErrorCode::Internal: return "internal";
    }
    return "unknown";
}

// Every message: `std::string encode() const`,
// `static bool decode(std::string_view payload, T *out)` (false = malformed)
// and ==; decode(encode(m)) == m (fuzz/fuzz_messages checks it).

struct Hello {
    std::uint16_t version = kVersion;
    std::uint32_t maxPayload = kDefaultMaxPayload; // largest payload the host accepts
    std::uint64_t nonce = 0; // echoed in HelloAck
    std::string client; // e.g. "microvm-sandbox 0.1.0"
    std::string encode() const
    {
        Writer w;
        w.u16(version);
        w.u32(maxPayload);
        w.u64(nonce);
        w.str(client);
        return w.take();
    }
    static bool decode(std::string_view p, Hello *m)
    {
        Reader r(p);
        m->version = r.u16();
        m->maxPayload = r.u32();
        m->nonce = r.u64();
        m->client = r.str();
        return r.ok();
    }
    bool operator==(const Hello &) const = default;
};

struct HelloAck {
    std::uint16_t version = kVersion;
    std::uint32_t maxPayload = kDefaultMaxPayload; // largest payload the agent accepts
    std::uint64_t nonce = 0; // the nonce of the Hello answered
    std::string agentVersion;
    std::string bootId; // /proc/sys/kernel/random/boot_id: changes on every guest boot
    std::string encode() const
    {
        Writer w;
        w.u16(version);
        w.u32(maxPayload);
        w.u64(nonce);
        w.str(agentVersion);
        w.str(bootId);
        return w.take();
    }
    static bool decode(std::string_view p, HelloAck *m)
    {
        Reader r(p);
        m->version = r.u16();
        m->maxPayload = r.u32();
        m->nonce = r.u64();
        m->agentVersion = r.str();
        m->bootId = r.str();
        return r.ok();
    }
    bool operator==(const HelloAck &) const = default;
};

struct Announce {
    std::uint16_t version = kVersion;
    std::string agentVersion;
    std::string encode() const
    {
        Writer w;
        w.u16(version);
        w.str(agentVersion);
        return w.take();
    }
    static bool decode(std::string_view p, Announce *m)
    {
        Reader r(p);
        m->version = r.u16();
        m->agentVersion = r.str();
        return r.ok();
    }
    bool operator==(const Announce &) const = default;
};

struct ErrorMsg {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
    std::string encode() const
    {
        Writer w;
        w.u32(static_cast<std::uint32_t>(code));
        w.str(message);
        return w.take();
    }
    static bool decode(std::string_view p, ErrorMsg *m)
    {
        Reader r(p);
        m->code = static_cast<ErrorCode>(r.u32());
        m->message = r.str();
        return r.ok();
    }
    bool operator==(const ErrorMsg &) const = default;
};

// More bytes the agent may send on the frame's stream (added to what is left).
struct StreamCredit {
    std::uint32_t bytes = 0;
    std::string encode() const
    {
        Writer w;
        w.u32(bytes);
        return w.take();
    }
    static bool decode(std::string_view p, StreamCredit *m)
    {
        Reader r(p);
        m->bytes = r.u32();
        return r.ok();
    }
    bool operator==(const StreamCredit &) const = default;
};

struct ExecStart {
    enum Flags : std::uint32_t {
        StdinPipe = 1u << 0, // stdin comes as ExecStdin frames; otherwise /dev/null
        ClearEnv = 1u << 1, // start from an empty environment instead of the agent's
    };
    std::vector<std::string> argv; // empty: run `shell` with /bin/sh -c
    std::string shell;
    std::vector<std::string> env; // "NAME=value", added to (or replacing) the environment
    std::string cwd; // empty: "/"
    std::uint32_t timeoutMs = 0; // 0: no timeout; on expiry the process group gets SIGKILL
    std::uint32_t flags = 0;
    std::string encode() const
    {
        Writer w;
        w.strList(argv);
        w.str(shell);
        w.strList(env);
        w.str(cwd);
        w.u32(timeoutMs);
        w.u32(flags);
        return w.take();
    }
    static bool decode(std::string_view p, ExecStart *m)
    {
        Reader r(p);
        m->argv = r.strList();
        m->shell = r.str();
        m->env = r.strList();
        m->cwd = r.str();
        m->timeoutMs = r.u32();
        m->flags = r.u32();
        return r.ok();
    }
    bool operator==(const ExecStart &) const = default;
};

struct ExecStarted {
    std::int32_t pid = 0;
    std::string encode() const
    {
        Writer w;
        w.i32(pid);
        return w.take();
    }
    static bool decode(std::string_view p, ExecStarted *m)
    {
        Reader r(p);
        m->pid = r.i32();
        return r.ok();
    }
    bool operator==(const ExecStarted &) const = default;
};

struct ExecExit {
    std::int32_t exitCode = -1; // valid when signal == 0
    std::int32_t signal = 0; // terminating signal, 0 if it exited
    bool timedOut = false;
    std::uint64_t durationUs = 0;
    std::string encode() const
    {
        Writer w;
        w.i32(exitCode);
        w.i32(signal);
        w.boolean(timedOut);
        w.u64(durationUs);
        return w.take();
    }
    static bool decode(std::string_view p, ExecExit *m)
    {
        Reader r(p);
        m->exitCode = r.i32();
        m->signal = r.i32();
        m->timedOut = r.boolean();
        m->durationUs = r.u64();
        return r.ok();
    }
    bool operator==(const ExecExit &) const = default;
};

// ExecStdin, ExecStdout, ExecStderr, FileData and StreamData carry raw bytes
// as the whole payload (no framing inside). ExecStdinEof, FileEnd, Cancel,
// Health and StreamClose have empty payloads.

struct FilePut {
    enum Flags : std::uint32_t {
        MakeParents = 1u << 0, // create missing parent directories
        NoOverwrite = 1u << 1, // fail with Exists if the path exists
    };
    std::string path;
    std::uint32_t mode = 0644; // permission bits (07777)
    std::uint64_t size = 0; // total bytes that will follow (checked at FileEnd)
    std::uint32_t flags = 0;
    std::string encode() const
    {
        Writer w;
        w.str(path);
        w.u32(mode);
        w.u64(size);
        w.u32(flags);
        return w.take();
    }
    static bool decode(std::string_view p, FilePut *m)
    {
        Reader r(p);
        m->path = r.str();
        m->mode = r.u32();
        m->size = r.u64();
        m->flags = r.u32();
        return r.ok();
    }
    bool operator==(const FilePut &) const = default;
};

struct FilePutDone {
    std::uint64_t bytesWritten = 0;
    std::string encode() const
    {
        Writer w;
        w.u64(bytesWritten);
        return w.take();
    }
    static bool decode(std::string_view p, FilePutDone *m)
    {
        Reader r(p);
        m->bytesWritten = r.u64();
        return r.ok();
    }
    bool operator==(const FilePutDone &) const = default;
};

struct PathRequest { // FileGet, Stat, List
    std::string path;
    std::string encode() const
    {
        Writer w;
        w.str(path);
        return w.take();
    }
    static bool decode(std::string_view p, PathRequest *m)
    {
        Reader r(p);
        m->path = r.str();
        return r.ok();
    }
    bool operator==(const PathRequest &) const = default;
};

struct FileGetInfo {
    std::uint64_t size = 0;
    std::uint32_t mode = 0;
    std::string encode() const
    {
        Writer w;
        w.u64(size);
        w.u32(mode);
        return w.take();
    }
    static bool decode(std::string_view p, FileGetInfo *m)
    {
        Reader r(p);
        m->size = r.u64();
        m->mode = r.u32();
        return r.ok();
    }
    bool operator==(const FileGetInfo &) const = default;
};

enum class FileType : std::uint8_t { Other = 0, Regular = 1, Directory = 2, Symlink = 3, CharDevice = 4, BlockDevice = 5, Fifo = 6, Socket = 7 };

struct FileInfo {
    // The fewest bytes one entry takes on the wire (empty strings): bounds
    // the count a ListResult may claim for the bytes it has.
    static constexpr std::size_t kMinEncodedSize = 4 + 1 + 4 + 8 + 8 + 4 + 4 + 4;
    std::string name; // base name in ListResult; the full path in StatResult
    FileType type = FileType::Other;
    std::uint32_t mode = 0; // permission bits
    std::uint64_t size = 0;
    std::int64_t mtimeSec = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::string linkTarget; // for symlinks
    void write(Writer &w) const
    {
        w.str(name);
        w.u8(static_cast<std::uint8_t>(type));
        w.u32(mode);
        w.u64(size);
        w.i64(mtimeSec);
        w.u32(uid);
        w.u32(gid);
        w.str(linkTarget);
    }
    void read(Reader &r)
    {
        name = r.str();
        type = static_cast<FileType>(r.u8());
        mode = r.u32();
        size = r.u64();
        mtimeSec = r.i64();
        uid = r.u32();
        gid = r.u32();
        linkTarget = r.str();
    }
    bool operator==(const FileInfo &) const = default;
};

struct StatResult {
    FileInfo info; // lstat() of the path
    std::string encode() const
    {
        Writer w;
        info.write(w);
        return w.take();
    }
    static bool decode(std::string_view p, StatResult *m)
    {
        Reader r(p);
        m->info.read(r);
        return r.ok();
    }
    bool operator==(const StatResult &) const = default;
};

struct ListResult {
    std::vector<FileInfo> entries; // sorted by name, without "." and ".."
    std::string encode() const
    {
        Writer w;
        w.u32(static_cast<std::uint32_t>(entries.size()));
        for (const auto &e : entries)
            e.write(w);
        return w.take();
    }
    static bool decode(std::string_view p, ListResult *m)
    {
        Reader r(p);
        const std::uint32_t n = r.u32();
        if (!r.ok() || n > r.remaining() / FileInfo::kMinEncodedSize)
            return false;
        m->entries.resize(n);
        for (auto &e : m->entries)
            e.read(r);
        return r.ok();
    }
    bool operator==(const ListResult &) const = default;
};

// One network interface of the guest (not lo), in HealthResult.
struct InterfaceInfo {
    std::string name; // "eth0"
    std::string mac; // "0a:1b:2c:3d:4e:5f", empty when it has none
    bool up = false; // IFF_UP
    std::vector<std::string> addresses; // "10.213.0.2/30", "fe80::1/64"
    bool operator==(const InterfaceInfo &) const = default;
};

struct HealthResult {
    // Most a HealthResult carries (the agent reports the first ones).
    static constexpr std::uint32_t kMaxInterfaces = 16;
    static constexpr std::uint32_t kMaxAddressesPerInterface = 16;
    std::string agentVersion;
    std::uint64_t agentUptimeMs = 0;
    std::uint64_t systemUptimeMs = 0;
    std::uint64_t memTotalKiB = 0;
    std::uint64_t memAvailableKiB = 0;
    std::uint32_t load1Milli = 0; // 1-minute load average * 1000
    std::uint32_t cpus = 0;
    std::uint32_t activeStreams = 0;
    std::string hostname;
    std::string kernel; // uname -sr
    // Appended after `kernel` within protocol version 2 (and only when
    // there are some): a host that predates them ignores the trailing
    // bytes, and an agent that predates them sends none.
    std::vector<InterfaceInfo> interfaces;
    std::string encode() const
    {
        Writer w;
        w.str(agentVersion);
        w.u64(agentUptimeMs);
        w.u64(systemUptimeMs);
        w.u64(memTotalKiB);
        w.u64(memAvailableKiB);
        w.u32(load1Milli);
        w.u32(cpus);
        w.u32(activeStreams);
        w.str(hostname);
        w.str(kernel);
        if (interfaces.empty())
            return w.take(); // what an agent that predates them sends
        w.u32(static_cast<std::uint32_t>(interfaces.size()));
        for (const InterfaceInfo &i : interfaces) {
            w.str(i.name);
            w.str(i.mac);
            w.boolean(i.up);
            w.u32(static_cast<std::uint32_t>(i.addresses.size()));
            for (const std::string &a : i.addresses)
                w.str(a);
        }
        return w.take();
    }
    static bool decode(std::string_view p, HealthResult *m)
    {
        Reader r(p);
        m->agentVersion = r.str();
        m->agentUptimeMs = r.u64();
        m->systemUptimeMs = r.u64();
        m->memTotalKiB = r.u64();
        m->memAvailableKiB = r.u64();
        m->load1Milli = r.u32();
        m->cpus = r.u32();
        m->activeStreams = r.u32();
        m->hostname = r.str();
        m->kernel = r.str();
        m->interfaces.clear();
        if (r.ok() && !r.atEnd())
            return decodeInterfaces(r, m) && r.ok();
        return r.ok();
    }
    bool operator==(const HealthResult &) const = default;

private:
    static bool decodeInterfaces(Reader &r, HealthResult *m)
    {
        const std::uint32_t count = r.u32();
        if (count > kMaxInterfaces)
            return false;
        for (std::uint32_t n = 0; n < count && r.ok(); ++n) {
            InterfaceInfo i;
            i.name = r.str();
            i.mac = r.str();
            i.up = r.boolean();
            const std::uint32_t addresses = r.u32();
            if (addresses > kMaxAddressesPerInterface)
                return false;
            for (std::uint32_t a = 0; a < addresses && r.ok(); ++a)
                i.addresses.push_back(r.str());
            m->interfaces.push_back(std::move(i));
        }
        return true;
    }
};

struct Shutdown {
    bool reboot = false;
    std::string encode() const
    {
        Writer w;
        w.boolean(reboot);
        return w.take();
    }
    static bool decode(std::string_view p, Shutdown *m)
    {
        Reader r(p);
        m->reboot = r.boolean();
        return r.ok();
    }
    bool operator==(const Shutdown &) const = default;
};

// Opens a TCP connection from inside the guest (host usually 127.0.0.1) and
// relays it as StreamData frames on this stream.
struct StreamOpen {
    std::string host;
    std::uint16_t port = 0;
    std::string encode() const
    {
        Writer w;
        w.str(host);
        w.u16(port);
        return w.take();
    }
    static bool decode(std::string_view p, StreamOpen *m)
    {
        Reader r(p);
        m->host = r.str();
        m->port = r.u16();
        return r.ok();
    }
    bool operator==(const StreamOpen &) const = default;
};

// ---------------------------------------------------------------- processes

// A background process as the agent keeps it (ProcessInfo, and in lists).
struct ProcessState {
    // The fewest bytes one entry takes on the wire (an empty command).
    static constexpr std::size_t kMinEncodedSize = 4 + 4 + 1 + 4 + 4 + 8 + 8;
    std::int32_t pid = 0;
    std::vector<std::string> command; // argv, or {"sh", "-c", shell}
    bool running = true;
    std::int32_t exitCode = -1; // valid when it ended and signal == 0
    std::int32_t signal = 0; // terminating signal, 0 if it exited
    std::uint64_t startedMs = 0; // Unix time in milliseconds
    std::uint64_t endedMs = 0; // 0 while running
    void write(Writer &w) const
    {
        w.i32(pid);
        w.strList(command);
        w.boolean(running);
        w.i32(exitCode);
        w.i32(signal);
        w.u64(startedMs);
        w.u64(endedMs);
    }
    void read(Reader &r)
    {
        pid = r.i32();
        command = r.strList();
        running = r.boolean();
        exitCode = r.i32();
        signal = r.i32();
        startedMs = r.u64();
        endedMs = r.u64();
    }
    std::string encode() const
    {
        Writer w;
        write(w);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessState *m)
    {
        Reader r(p);
        m->read(r);
        return r.ok();
    }
    bool operator==(const ProcessState &) const = default;
};

struct ProcessListResult {
    std::vector<ProcessState> processes; // oldest first
    std::string encode() const
    {
        Writer w;
        w.u32(static_cast<std::uint32_t>(processes.size()));
        for (const auto &p : processes)
            p.write(w);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessListResult *m)
    {
        Reader r(p);
        const std::uint32_t n = r.u32();
        if (!r.ok() || n > r.remaining() / ProcessState::kMinEncodedSize)
            return false;
        m->processes.resize(n);
        for (auto &e : m->processes)
            e.read(r);
        return r.ok();
    }
    bool operator==(const ProcessListResult &) const = default;
};

struct ProcessRef { // ProcessStatus, ProcessRemove
    std::int32_t pid = 0;
    std::string encode() const
    {
        Writer w;
        w.i32(pid);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessRef *m)
    {
        Reader r(p);
        m->pid = r.i32();
        return r.ok();
    }
    bool operator==(const ProcessRef &) const = default;
};

// Output from byte offsets into the whole stdout and stderr streams; at
// most maxBytes of each (the agent also keeps the reply under the host's
// maximum payload).
struct ProcessRead {
    std::int32_t pid = 0;
    std::uint64_t stdoutOffset = 0;
    std::uint64_t stderrOffset = 0;
    std::uint32_t maxBytes = 0;
    std::string encode() const
    {
        Writer w;
        w.i32(pid);
        w.u64(stdoutOffset);
        w.u64(stderrOffset);
        w.u32(maxBytes);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessRead *m)
    {
        Reader r(p);
        m->pid = r.i32();
        m->stdoutOffset = r.u64();
        m->stderrOffset = r.u64();
        m->maxBytes = r.u32();
        return r.ok();
    }
    bool operator==(const ProcessRead &) const = default;
};

struct ProcessOutput {
    ProcessState state;
    std::uint64_t stdoutOffset = 0; // where the next read of stdout starts
    std::uint64_t stderrOffset = 0;
    bool truncated = false; // bytes before the returned data were dropped
    std::string stdoutData;
    std::string stderrData;
    std::string encode() const
    {
        Writer w;
        state.write(w);
        w.u64(stdoutOffset);
        w.u64(stderrOffset);
        w.boolean(truncated);
        w.str(stdoutData);
        w.str(stderrData);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessOutput *m)
    {
        Reader r(p);
        m->state.read(r);
        m->stdoutOffset = r.u64();
        m->stderrOffset = r.u64();
        m->truncated = r.boolean();
        m->stdoutData = r.str();
        m->stderrData = r.str();
        return r.ok();
    }
    bool operator==(const ProcessOutput &) const = default;
};

struct ProcessWrite {
    std::int32_t pid = 0;
    bool eof = false; // close stdin once data is written
    std::string data;
    std::string encode() const
    {
        Writer w;
        w.i32(pid);
        w.boolean(eof);
        w.str(data);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessWrite *m)
    {
        Reader r(p);
        m->pid = r.i32();
        m->eof = r.boolean();
        m->data = r.str();
        return r.ok();
    }
    bool operator==(const ProcessWrite &) const = default;
};

// A signal to the process's group (it runs in a session of its own).
struct ProcessSignal {
    std::int32_t pid = 0;
    std::int32_t signal = 15;
    std::string encode() const
    {
        Writer w;
        w.i32(pid);
        w.i32(signal);
        return w.take();
    }
    static bool decode(std::string_view p, ProcessSignal *m)
    {
        Reader r(p);
        m->pid = r.i32();
        m->signal = r.i32();
        return r.ok();
    }
    bool operator==(const ProcessSignal &) const = default;
};

} // namespace Protocol
