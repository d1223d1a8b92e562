#pragma once
// A VM's activity (ActivityLog): GET /api/v1/vms/{name}/events?since=<seq>
// (the kept events, oldest first) and the route of its events WebSocket
// (EventSocket).

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class ActivityLog;
class Router;

class ActivityController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivityController)
public:
    // The manager and the log must outlive the controller.
    ActivityController(Vm::VmManager &manager, const ActivityLog &log, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture events(const Request &request);

private:
    Vm::VmManager &m_manager;
    const ActivityLog &m_log;
};

} // namespace Server
