#pragma once
// What the service says about itself: health and version, the templates it
// offers, its OpenAPI document, its metrics (with each VM's VMM process and
// guest memory, read when asked) and the host it runs on (GET /api/v1/system).

#include "core/async.h"
#include "server/apitypes.h"
#include "server/metrics.h"

#include <QJsonObject>
#include <QMap>

#include <map>
#include <optional>

namespace Vm {
class VmManager;
}

namespace Server {

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
    ApiFuture system(const Request &request);

    // Every VM state's name with the number of VMs in it.
    QMap<QString, int> vmCountsByState() const;

    // How long /metrics waits for the guests' agents to say their memory.
    static constexpr int kHealthWaitMs = 2000;

private:
    // What takes a process or a probe to learn, learned once: KVM's status
    // (core probes it once per process) and the VMM's version.
    struct SlowFacts {
        bool kvmUsable = false;
        QString kvmReason;
        QString vmmVersion;
    };
    Core::Future<SlowFacts> slowFacts();
    QJsonObject accelerator(const SlowFacts &facts) const;
    QJsonObject quota() const;
    static QJsonValue ksmJson();
    QByteArray renderMetrics(const std::map<QString, Metrics::VmLive> &live) const;

    const Vm::VmManager &m_manager;
    const Metrics &m_metrics;
    std::optional<SlowFacts> m_facts;
};

} // namespace Server
