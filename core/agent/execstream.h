#pragma once
// exec: starts a command in the guest, relays its output to the ExecHandle,
// keeps what the request's limits allow of it, resolves with the exit.

#include "core/agent/agentstream.h"
#include "core/agent/chunkqueue.h"
#include "core/agent/exechandle.h"

namespace Agent {

class ExecStream final : public AgentStream {
public:
    // id 0: never started (the failure is all there is to report).
    ExecStream(AgentClient *client, quint32 id, const ExecRequest &request);

    void setHandle(ExecHandle *handle) { m_handle = handle; }
    // What start() sends first.
    static Protocol::ExecStart startMessage(const ExecRequest &request);
    // Sends ExecStart, then the request's stdin.
    void start(const ExecRequest &request);

    Core::Future<ExecResult> result() const { return m_promise.future(); }
    bool isFinished() const { return m_promise.isResolved(); }
    // Stdin is queued and goes out while the agent socket's write queue is
    // short (as uploads do); stdinBytesToWrite() is what still waits.
    void writeStdin(const QByteArray &data);
    void closeStdin();
    qint64 stdinBytesToWrite() const { return m_stdin.size(); }
    // The output's reader is behind: withhold this stream's credit.
    void pauseOutput(bool paused) { holdCredit(paused); }
    // Kill the process group in the guest; the exit still comes.
    void cancel();
    // The handle is going away: cancel in the guest, fail Cancelled.
    void abandon();

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    bool pump() override;

private:
    void failed(const Core::Error &error) override;
    void onStarted(std::string_view payload);
    void onOutput(bool isStderr, std::string_view payload);
    void onExit(std::string_view payload);
    int deadlineMs(const ExecRequest &request) const;

    int m_deadlineMs = 0; // of the whole command; 0: none once it started
    ChunkQueue m_stdin; // not yet handed to the socket
    bool m_stdinEof = false; // ExecStdinEof once m_stdin is empty
    bool m_eofSent = false;

    QPointer<ExecHandle> m_handle;
    const bool m_collect;
    const qint64 m_maxOutput; // of stdout kept in m_result; 0: all
    const qint64 m_maxStderr; // of stderr
    ExecResult m_result; // pid and output so far
    Core::Promise<ExecResult> m_promise;
};

} // namespace Agent
