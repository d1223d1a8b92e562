#pragma once
// exec: runs a command in its own session/process group with piped stdout
// and stderr (and optionally stdin), streams the output, reports the exit.

#include "eventloop.h"
#include "stream.h"
#include "uniquefd.h"

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace GuestAgent {

class ExecStream final : public Stream {
public:
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
    };

    void fail(Protocol::ErrorCode code, const std::string &message);
    void watchOutput(UniqueFd stdoutFd, UniqueFd stderrFd);
    void watchStdin(UniqueFd stdinFd);
    void announceStarted(std::uint32_t timeoutMs);
    void onOutput(int index);
    void closeOutput(int index);
    void onChildExit(int status);
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
    bool m_released = false;
    std::uint64_t m_startUs = 0;
    std::uint64_t m_durationUs = 0;
    TimerHandle m_timeout;
    TimerHandle m_grace;
};

} // namespace GuestAgent
