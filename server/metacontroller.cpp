#include "server/metacontroller.h"

#include "core/template/vmtemplate.h"
#include "core/vm/vmmanager.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

MetaController::MetaController(const Vm::VmManager &manager, const Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_metrics(metrics)
{
}

void MetaController::addRoutes(Router &router)
{
    using C = MetaController;
    router.add("GET", QStringLiteral("/api/v1/health"), this, &C::health, {.needsAuth = false});
    router.add("GET", QStringLiteral("/api/v1/templates"), this, &C::listTemplates);
    // The docs page (/docs) reads it with its session cookie.
    router.add("GET", QStringLiteral("/api/v1/openapi.json"), this, &C::openApi, {.cookieOk = true, .session = RouteFlags::Session::Docs});
    router.add("GET", QStringLiteral("/metrics"), this, &C::metrics);
}

ApiFuture MetaController::health(const Request &)
{
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")}, {QStringLiteral("version"), QStringLiteral(MVS_VERSION)}}));
}

ApiFuture MetaController::listTemplates(const Request &)
{
    QJsonArray list;
    for (const Templates::VmTemplate &t : Templates::VmTemplate::all()) {
        list.append(QJsonObject{{QStringLiteral("name"), t.name},
                                {QStringLiteral("aliases"), QJsonArray::fromStringList(t.aliases)},
                                {QStringLiteral("description"), t.description},
                                {QStringLiteral("vcpus"), t.vcpus},
                                {QStringLiteral("memory_mb"), t.memoryMiB}});
    }
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("templates"), list}}));
}

ApiFuture MetaController::openApi(const Request &)
{
    return finished(Response::ofJson(OpenApi::document()));
}

QMap<QString, int> MetaController::vmCountsByState() const
{
    using State = Vm::VirtualMachine::State;
    QMap<QString, int> counts;
    for (State s : {State::Created, State::Preparing, State::Booting, State::Ready, State::Paused, State::Stopping, State::Stopped, State::Failed})
        counts.insert(Vm::stateName(s), 0);
    for (const Vm::VmInfo &info : m_manager.list())
        ++counts[Vm::stateName(info.state)];
    return counts;
}

ApiFuture MetaController::metrics(const Request &)
{
    const Vm::VmPorts::Totals t = m_manager.portTotals();
    const Metrics::PortCounts ports{t.active, t.waiting, t.failed, t.openConnections, t.connectionsTotal, t.connectionFailures};
    std::map<QString, Metrics::VmConnectionCounts> network;
    for (const auto &[vm, c] : m_manager.networkCounters())
        network.emplace(vm, Metrics::VmConnectionCounts{c.allowed, c.denied});
    return finished(
        Response::ofBytes(m_metrics.render(vmCountsByState()) + Metrics::renderPorts(ports) + Metrics::renderNetwork(network), Metrics::contentType()));
}

} // namespace Server
