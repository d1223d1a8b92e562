#pragma once
// A VM's background processes ({name}, and {pid}: the guest's pid), kept by
// its guest agent (Agent::AgentClient::startProcess and the rest): started
// by POST .../exec with "background": true (GuestController hands that to
// start()), then listed, read by offset, written to, signalled and deleted.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Router;

class ProcessController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ProcessController)
public:
    // The manager must outlive the controller.
    explicit ProcessController(Vm::VmManager &manager, QObject *parent = nullptr);

    void addRoutes(Router &router);

    // True when an exec body asks for a background process (a body that
    // is not a JSON object is not: the exec's parser says what is wrong).
    static bool backgroundRequested(const QByteArray &execBody);

    // The most stdin a background start takes (what the guest holds of a
    // process's stdin not yet read: GuestAgent::ProcessTable::kStdinBytes);
    // less when one write to the agent (its frame limit) holds less.
    static constexpr qsizetype kMaxStartStdinBytes = 1 << 20;

    // POST .../exec with "background": true: 201 with the process, once
    // its "stdin" (if any) is written; a write that fails is the answer.
    ApiFuture start(const Request &request);
    ApiFuture list(const Request &request);
    ApiFuture status(const Request &request);
    // From byte offsets, as text cut at whole characters (OutputText).
    ApiFuture output(const Request &request);
    ApiFuture writeStdin(const Request &request);
    ApiFuture kill(const Request &request);
    ApiFuture remove(const Request &request);

private:
    Vm::VmManager &m_manager;
};

} // namespace Server
