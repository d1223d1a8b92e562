#pragma once
// The VMs themselves: create, list, get, delete, and their lifecycle
// (start, stop, pause, resume, restart), over Vm::VmManager.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Metrics;

class Router;

class VmController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmController)
public:
    // The manager must outlive the controller.
    // The manager and the metrics (per-VM series) must outlive the controller.
    VmController(Vm::VmManager &manager, Metrics &metrics, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture listVms(const Request &request);
    ApiFuture createVm(const Request &request);
    ApiFuture getVm(const Request &request);
    ApiFuture deleteVm(const Request &request);
    ApiFuture startVm(const Request &request);
    ApiFuture stopVm(const Request &request);
    ApiFuture pauseVm(const Request &request);
    ApiFuture resumeVm(const Request &request);
    ApiFuture restartVm(const Request &request);
    ApiFuture resizeVm(const Request &request);

private:
    // Run one VmManager lifecycle call for the {name} parameter; answer with the VM.
    ApiFuture vmAction(const Request &request, Core::Future<void> (Vm::VmManager::*operation)(const QString &));
    // Start a VM just created; one that does not start is removed.
    ApiFuture startCreated(const QString &name);

    // A start or restart that ended running: its boot time in the VM's series.
    void countBoot(const QString &name);

    Vm::VmManager &m_manager;
    Metrics &m_metrics;
};

} // namespace Server
