#pragma once
// A VM's network ({name}): its egress policy, read and replaced at runtime,
// over Vm::VmManager.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Router;

class NetworkController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NetworkController)
public:
    // The manager must outlive the controller.
    explicit NetworkController(Vm::VmManager &manager, QObject *parent = nullptr);

    void addRoutes(Router &router);

    // Its network now: mode and MAC (from its record), and while it runs
    // with a NIC its address, gateway, tap, connection counters and recent
    // denials.
    ApiFuture getNetwork(const Request &request);
    ApiFuture getPolicy(const Request &request);
    // The whole policy is replaced (a body of the form GET answers); a
    // running VM's new connections follow it at once.
    ApiFuture putPolicy(const Request &request);

private:
    Vm::VmManager &m_manager;
};

} // namespace Server
