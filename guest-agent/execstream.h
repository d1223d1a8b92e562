#pragma once
// exec: runs a command in its own session/process group with piped stdout
// and stderr (and optionally stdin), streams the output, reports the exit.
// The answer comes when the command's main process ends: output still
// arriving is taken for kOutputGraceMs, then the exit is sent and the pipes
// go to the agent's PipeDrain, so background children (`server &`) keep
// running. A timeout or a cancel before the main process ends kills the
// whole process group.

#include "eventloop.h"
#include "stream.h"
#include "uniquefd.h"

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace GuestAgent {

class ExecStream final : public Stream {
public:
    // How long output is still taken after the main process ended.
    static constexpr std::uint64_t kOutputGraceMs = 250;

    ExecStream(Session &session, std::uint32_t id);
    ~ExecStream() override;

    void start(const Protocol::ExecStart &request);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    void cancel() override;
    void release() override;
    void outputResumed() override;
    std::size_t inboundBuffered() const override { return m_stdinBuffer.size() - m_stdinOffset; }

private:
    struct Pipe {
        UniqueFd fd;
        WatchHandle watch;
        Protocol::MsgType type = Protocol::MsgType::ExecStdout;
        std::size_t tail = 0; // after the grace: bytes still to send
    };

    void fail(Protocol::ErrorCode code, const std::string &message);
    void watchOutput(UniqueFd stdoutFd, UniqueFd stderrFd);
    void watchStdin(UniqueFd stdinFd);
    void announceStarted(std::uint32_t timeoutMs);
    void onOutput(int index);
    void closeOutput(int index);
    void onChildExit(int status);
    void endGrace();
    void handOff(int index);
    void killGroup();
    void writeStdin();
    void closeStdin();
    void updateInterest();
    void maybeFinish();

    Pipe m_output[2];
    UniqueFd m_stdin;
    WatchHandle m_stdinWatch;
    std::string m_stdinBuffer;
    std::size_t m_stdinOffset = 0;
    bool m_stdinEofRequested = false;

    pid_t m_pid = -1;
    bool m_exited = false;
    int m_status = 0;
    bool m_killed = false;
    bool m_timedOut = false;
    bool m_graceOver = false;
    bool m_released = false;
    std::uint64_t m_startUs = 0;
    std::uint64_t m_durationUs = 0;
    TimerHandle m_timeout;
    TimerHandle m_grace;
};

} // namespace GuestAgent
