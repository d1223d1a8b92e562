#pragma once
// A VM's exposed ports ({name}, and {port}: a guest port): expose, list,
// remove, over Vm::VmManager (see Vm::VmPorts for what an exposure is).

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Router;

class PortController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PortController)
public:
    // The manager must outlive the controller.
    explicit PortController(Vm::VmManager &manager, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture exposePort(const Request &request);
    ApiFuture listPorts(const Request &request);
    ApiFuture unexposePort(const Request &request);

private:
    Vm::VmManager &m_manager;
};

} // namespace Server
