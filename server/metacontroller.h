#pragma once
// What the service says about itself: health and version, the templates it
// offers, its OpenAPI document and its metrics.

#include "server/apitypes.h"

#include <QMap>

namespace Vm {
class VmManager;
}

namespace Server {

class Metrics;
class Router;

class MetaController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MetaController)
public:
    // The manager and the metrics must outlive the controller.
    MetaController(const Vm::VmManager &manager, const Metrics &metrics, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture health(const Request &request);
    ApiFuture listTemplates(const Request &request);
    ApiFuture openApi(const Request &request);
    ApiFuture metrics(const Request &request);

    // Every VM state's name with the number of VMs in it.
    QMap<QString, int> vmCountsByState() const;

private:
    const Vm::VmManager &m_manager;
    const Metrics &m_metrics;
};

} // namespace Server
