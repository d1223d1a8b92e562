#pragma once
// exec: starts a command in the guest, relays its output to the ExecHandle,
// keeps what the request's limits allow of it, resolves with the exit.

#include "core/agent/agentstream.h"
#include "core/agent/exechandle.h"

namespace Agent {

class ExecStream final : public AgentStream {
public:
    // id 0: never started (the failure is all there is to report).
    ExecStream(AgentClient *client, quint32 id, const ExecRequest &request);

    void setHandle(ExecHandle *handle) { m_handle = handle; }
    // Sends ExecStart, then the request's stdin.
    void start(const ExecRequest &request);

    Core::Future<ExecResult> result() const { return m_promise.future(); }
    bool isFinished() const { return m_promise.isResolved(); }
    void writeStdin(const QByteArray &data);
    void closeStdin();
    // Kill the process group in the guest; the exit still comes.
    void cancel();
    // The handle is going away: cancel in the guest, fail Cancelled.
    void abandon();

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;

private:
    void failed(const Core::Error &error) override;
    void onStarted(std::string_view payload);
    void onOutput(bool isStderr, std::string_view payload);
    void onExit(std::string_view payload);
    int deadlineMs(const ExecRequest &request) const;

    QPointer<ExecHandle> m_handle;
    const bool m_collect;
    const qint64 m_maxOutput; // of stdout and of stderr each, kept in m_result; 0: all
    ExecResult m_result; // pid and output so far
    Core::Promise<ExecResult> m_promise;
};

} // namespace Agent
