#pragma once
// The paused pool (Vm::VmPool): GET /api/v1/pool says what it holds per
// template; PUT /api/v1/pool {"targets": {"minimal": 2}} replaces its
// targets until the service stops (the config's pool key is the lasting
// setting).

#include "server/apitypes.h"

#include <QJsonObject>

namespace Vm {
class VmManager;
}

namespace Server {

class Router;

class PoolController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PoolController)
public:
    // The manager must outlive the controller.
    explicit PoolController(Vm::VmManager &manager, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture status(const Request &request);
    ApiFuture setTargets(const Request &request);

    // {"warm_start", "templates": [{template, target, vcpus, memory_mb,
    // ready, filling, last_error}]}, also part of GET /api/v1/system.
    static QJsonObject statusJson(const Vm::VmManager &manager);

private:
    Vm::VmManager &m_manager;
};

} // namespace Server
