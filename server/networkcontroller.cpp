#include "server/networkcontroller.h"

#include "core/net/networkpolicy.h"
#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/router.h"

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
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/network/policy"), this, &C::getPolicy);
    router.add("PUT", QStringLiteral("/api/v1/vms/{name}/network/policy"), this, &C::putPolicy);
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
