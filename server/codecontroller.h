#pragma once
// Code execution in a VM ({name}): run code (python, javascript, bash) once
// or in a session ({id}), and list, restart and close the sessions, through
// Code::CodeRunner and the guest's mvs-code-runner.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class ActivityLog;

class Router;

class CodeController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CodeController)
public:
    // The manager must outlive the controller.
    // Code runs are told to `activity` (may be null) as they end.
    explicit CodeController(Vm::VmManager &manager, ActivityLog *activity = nullptr, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture execute(const Request &request);
    ApiFuture listSessions(const Request &request);
    ApiFuture restartSession(const Request &request);
    ApiFuture closeSession(const Request &request);

private:
    Vm::VmManager &m_manager;
    ActivityLog *m_activity;
};

} // namespace Server
