#include "server/networkcontroller.h"

#include "core/net/networkpolicy.h"
#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

using namespace ApiJson;

NetworkController::NetworkController(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
}

void NetworkController::addRoutes(Router &router)
{
    using C = NetworkController;
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/network"), this, &C::getNetwork, {.role = Role::Viewer});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/network/policy"), this, &C::getPolicy, {.role = Role::Viewer});
    router.add("PUT", QStringLiteral("/api/v1/vms/{name}/network/policy"), this, &C::putPolicy, {.role = Role::Admin});
}

namespace {

QJsonObject denialToJson(const Net::Denial &d)
{
    return QJsonObject{{QStringLiteral("address"), d.address.toString()},
                       {QStringLiteral("protocol"), d.protocol},
                       {QStringLiteral("port"), int(d.port)},
                       {QStringLiteral("expires_s"), d.expiresS}};
}

QJsonObject statusToJson(const Vm::VmNetworkStatus &status)
{
    QJsonArray denials;
    for (const Net::Denial &d : status.denials)
        denials.append(denialToJson(d));
    return QJsonObject{
        {QStringLiteral("address"), QStringLiteral("%1/%2").arg(status.address.address.toString()).arg(status.address.prefix)},
        {QStringLiteral("gateway"), status.address.gateway.toString()},
        {QStringLiteral("resolver"), status.address.gateway.toString()},
        {QStringLiteral("tap"), status.tap},
        {QStringLiteral("counters"),
         QJsonObject{{QStringLiteral("allowed"), qint64(status.counters.allowed)}, {QStringLiteral("denied"), qint64(status.counters.denied)}}},
        {QStringLiteral("denials"), denials},
    };
}

} // namespace

ApiFuture NetworkController::getNetwork(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    auto info = m_manager.info(name);
    if (!info)
        return finished(ApiError::fromCore(info.error()));
    QJsonObject out = networkToJson(info->record.network);
    if (!info->record.network.hasNic())
        return finished(Response::ofJson(out));
    auto status = m_manager.networkStatus(name);
    if (!status)
        return finished(ApiError::fromCore(status.error()));
    out[QStringLiteral("attached")] = status->attached;
    if (status->attached) {
        const QJsonObject live = statusToJson(*status);
        for (auto it = live.begin(); it != live.end(); ++it)
            out[it.key()] = it.value();
    }
    return finished(Response::ofJson(out));
}

ApiFuture NetworkController::getPolicy(const Request &request)
{
    auto policy = m_manager.networkPolicy(request.param(QStringLiteral("name")));
    if (!policy)
        return finished(ApiError::fromCore(policy.error()));
    return finished(Response::ofJson(policy->toJson()));
}

ApiFuture NetworkController::putPolicy(const Request &request)
{
    auto parsed = parseObject(request.body, {QStringLiteral("default"), QStringLiteral("allow"), QStringLiteral("deny")});
    if (!parsed)
        return finished(parsed.error());
    auto policy = Net::NetworkPolicy::fromJson(*parsed, QStringLiteral("policy"));
    if (!policy)
        return finished(ApiError::fromCore(policy.error()));
    const QString name = request.param(QStringLiteral("name"));
    if (auto ok = m_manager.setNetworkPolicy(name, *policy); !ok)
        return finished(ApiError::fromCore(ok.error()));
    return finished(Response::ofJson(policy->toJson()));
}

} // namespace Server
