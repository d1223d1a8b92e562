#pragma once

#include <QtGlobal>

namespace Agent {

// What the host keeps of a guest's answer and how long it waits for it:
// core's policy, set per request, enforced by the stream of that request.
// Every byte from a guest is hostile: nothing it sends grows without bound,
// nothing it fails to send holds a stream forever.
struct StreamLimits {
    // An exec's stdout, and its stderr, kept in the ExecResult.
    static constexpr qint64 kDefaultMaxOutputBytes = 16 << 20;
    // A download into memory (AgentClient::getData).
    static constexpr qint64 kDefaultMaxDataBytes = 256 << 20;
    // How long past an exec's own timeout (which the guest enforces) the
    // host waits for the guest to report the exit.
    static constexpr int kExecDeadlineGraceMs = 30 * 1000;
    // A whole upload or download.
    static constexpr int kDefaultTransferDeadlineMs = 60 * 60 * 1000;
    // A download handed out as a reader (AgentClient::download): it fails
    // when neither the guest sent nor the reader took a byte for this long.
    static constexpr int kTransferIdleMs = 2 * 60 * 1000;
    // What the host keeps of its own commands' output (clock, RNG, host
    // name after a restore or fork), and how long past their timeout it
    // waits for a guest that does not report the exit.
    static constexpr qint64 kInternalOutputBytes = 64 << 10;
    static constexpr int kInternalGraceMs = 5 * 1000;
    // A stat, a list, a health check, opening a forwarded connection.
    static constexpr int kRequestDeadlineMs = 60 * 1000;

    // Bytes kept: of an exec's stdout and of its stderr each (the rest is
    // dropped and the result says truncated), or of a download (a larger
    // file is refused before a byte is read). 0: no cap. Uploads ignore it.
    qint64 maxBytes = 0;
    // Past this the stream fails with Timeout and is cancelled in the guest.
    // 0: none (an exec then waits its timeoutMs plus kExecDeadlineGraceMs).
    // For a download handed out as a reader: the most time without progress.
    int deadlineMs = 0;
    // Bytes kept of an exec's stderr when its caller reads only a little of
    // it (the rest dropped and flagged as for maxBytes). 0: maxBytes.
    qint64 maxStderrBytes = 0;

    static constexpr StreamLimits exec() { return {kDefaultMaxOutputBytes, 0}; }
    static constexpr StreamLimits transfer() { return {0, kDefaultTransferDeadlineMs}; }
    static constexpr StreamLimits inMemoryDownload() { return {kDefaultMaxDataBytes, kDefaultTransferDeadlineMs}; }
    static constexpr StreamLimits streamedDownload() { return {0, kTransferIdleMs}; }
    static constexpr StreamLimits internalCommand(int timeoutMs) { return {kInternalOutputBytes, timeoutMs + kInternalGraceMs}; }
    static constexpr StreamLimits request() { return {0, kRequestDeadlineMs}; }
};

} // namespace Agent
