#include "server/poolcontroller.h"

#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/router.h"

#include <QJsonArray>

namespace Server {

PoolController::PoolController(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
}

void PoolController::addRoutes(Router &router)
{
    router.add("GET", QStringLiteral("/api/v1/pool"), this, &PoolController::status, {.role = Role::Viewer});
    router.add("PUT", QStringLiteral("/api/v1/pool"), this, &PoolController::setTargets, {.role = Role::Admin});
}

QJsonObject PoolController::statusJson(const Vm::VmManager &manager)
{
    QJsonArray templates;
    if (const Vm::VmPool *pool = manager.pool()) {
        for (const Vm::VmPool::Status &s : pool->status())
            templates.append(QJsonObject{{QStringLiteral("template"), s.templateName},
                                         {QStringLiteral("target"), s.target},
                                         {QStringLiteral("vcpus"), s.vcpus},
                                         {QStringLiteral("memory_mb"), s.memoryMiB},
                                         {QStringLiteral("ready"), s.ready},
                                         {QStringLiteral("filling"), s.filling},
                                         {QStringLiteral("last_error"), ApiJson::stringOrNull(s.lastError)}});
    }
    return QJsonObject{{QStringLiteral("warm_start"), manager.warmStart()}, {QStringLiteral("templates"), templates}};
}

ApiFuture PoolController::status(const Request &)
{
    return finished(Response::ofJson(statusJson(m_manager)));
}

ApiFuture PoolController::setTargets(const Request &request)
{
    auto parsed = ApiJson::parseObject(request.body, {QStringLiteral("targets")});
    if (!parsed)
        return finished(parsed.error());
    const QJsonValue targetsJson = parsed->value(QStringLiteral("targets"));
    if (!targetsJson.isObject())
        return finished(ApiJson::wrongType(QStringLiteral("targets"), QStringLiteral("an object of template names and counts (required)")));
    QList<Vm::VmPool::Target> targets;
    const QJsonObject byTemplate = targetsJson.toObject();
    for (auto it = byTemplate.begin(); it != byTemplate.end(); ++it) {
        const QJsonValue count = it.value();
        if (!ApiJson::isInteger(count) || count.toInt() < 0 || count.toInt() > Vm::VmPool::kMaxPerTemplate)
            return finished(
                ApiJson::wrongType(QStringLiteral("targets.") + it.key(), QStringLiteral("an integer from 0 to %1").arg(Vm::VmPool::kMaxPerTemplate)));
        targets << Vm::VmPool::Target{it.key(), count.toInt()};
    }
    if (auto ok = m_manager.setPoolTargets(targets); !ok)
        return finished(ApiError::fromCore(ok.error()));
    return finished(Response::ofJson(statusJson(m_manager)));
}

} // namespace Server
