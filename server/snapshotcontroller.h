#pragma once
// Snapshots of a VM ({name}) and, where named, one of them ({snap}): take,
// list, get, restore, fork, delete, over Vm::VmManager.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Metrics;

class Router;

class SnapshotController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SnapshotController)
public:
    // The manager must outlive the controller.
    // The manager and the metrics (per-VM series) must outlive the controller.
    SnapshotController(Vm::VmManager &manager, Metrics &metrics, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture createSnapshot(const Request &request);
    ApiFuture listSnapshots(const Request &request);
    ApiFuture getSnapshot(const Request &request);
    ApiFuture restoreSnapshot(const Request &request);
    ApiFuture forkSnapshot(const Request &request);
    ApiFuture deleteSnapshot(const Request &request);

private:
    // The forks, as they are once made.
    ApiResult forksAnswer(const QStringList &forks) const;

    Vm::VmManager &m_manager;
    Metrics &m_metrics;
};

} // namespace Server
