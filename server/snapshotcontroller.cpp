#include "server/snapshotcontroller.h"

#include "core/snapshot/snapshotstore.h"
#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/metrics.h"
#include "server/router.h"

#include <QElapsedTimer>

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

using namespace ApiJson;

SnapshotController::SnapshotController(Vm::VmManager &manager, Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_metrics(metrics)
{
}

void SnapshotController::addRoutes(Router &router)
{
    using C = SnapshotController;
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/snapshots"), this, &C::createSnapshot, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/snapshots"), this, &C::listSnapshots, {.role = Role::Viewer});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/snapshots/{snap}"), this, &C::getSnapshot, {.role = Role::Viewer});
    router.add("DELETE", QStringLiteral("/api/v1/vms/{name}/snapshots/{snap}"), this, &C::deleteSnapshot, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/snapshots/{snap}/restore"), this, &C::restoreSnapshot, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/snapshots/{snap}/fork"), this, &C::forkSnapshot, {.role = Role::Operator});
}

ApiFuture SnapshotController::createSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {QStringLiteral("name"), QStringLiteral("leave_paused")});
    if (!parsed)
        return finished(parsed.error());
    const QJsonObject &o = *parsed;
    Vm::VmManager::SnapshotOptions options;
    if (o.contains(QStringLiteral("name"))) {
        const QJsonValue name = o.value(QStringLiteral("name"));
        if (!name.isString() || name.toString().isEmpty())
            return finished(wrongType(QStringLiteral("name"), QStringLiteral("a non-empty string (leave it out for snap-<UTC time>)")));
        options.name = name.toString();
    }
    if (o.contains(QStringLiteral("leave_paused"))) {
        if (!o.value(QStringLiteral("leave_paused")).isBool())
            return finished(wrongType(QStringLiteral("leave_paused"), QStringLiteral("true or false")));
        options.leavePaused = o.value(QStringLiteral("leave_paused")).toBool();
    }
    const QString vm = request.param(QStringLiteral("name"));
    return answerWhen(m_manager.snapshot(vm, options), this, [this, vm](const Snapshot::SnapshotInfo &info) {
        if (m_manager.contains(vm))
            m_metrics.recordVmSnapshot(vm, static_cast<quint64>(qMax<qint64>(0, info.sizeBytes())));
        return Response::ofJson(snapshotToJson(info), true);
    });
}

ApiFuture SnapshotController::listSnapshots(const Request &request)
{
    auto list = m_manager.snapshots(request.param(QStringLiteral("name")));
    if (!list)
        return finished(ApiError::fromCore(list.error()));
    QJsonArray out;
    for (const Snapshot::SnapshotInfo &info : *list)
        out.append(snapshotToJson(info));
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("snapshots"), out}}));
}

ApiFuture SnapshotController::getSnapshot(const Request &request)
{
    auto info = m_manager.snapshotInfo(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")));
    if (!info)
        return finished(ApiError::fromCore(info.error()));
    return finished(Response::ofJson(snapshotToJson(*info)));
}

ApiFuture SnapshotController::restoreSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {});
    if (!parsed)
        return finished(parsed.error());
    const QString name = request.param(QStringLiteral("name"));
    QElapsedTimer timer;
    timer.start();
    return answerWhen(m_manager.restore(name, request.param(QStringLiteral("snap"))), this, [this, name, timer]() {
        if (m_manager.contains(name))
            m_metrics.recordVmRestore(name, static_cast<double>(timer.nsecsElapsed()) / 1e9);
        return vmAnswer(m_manager, name);
    });
}

ApiFuture SnapshotController::forkSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {QStringLiteral("count"), QStringLiteral("name_prefix")});
    if (!parsed)
        return finished(parsed.error());
    const QJsonObject &o = *parsed;
    Vm::VmManager::ForkOptions options;
    if (o.contains(QStringLiteral("count"))) {
        const QJsonValue count = o.value(QStringLiteral("count"));
        if (!isInteger(count) || count.toInt() < 1 || count.toInt() > Vm::VmManager::kMaxForkCount)
            return finished(wrongType(QStringLiteral("count"), QStringLiteral("an integer from 1 to %1").arg(Vm::VmManager::kMaxForkCount)));
        options.count = count.toInt();
    }
    if (o.contains(QStringLiteral("name_prefix"))) {
        const QJsonValue prefix = o.value(QStringLiteral("name_prefix"));
        if (!prefix.isString() || prefix.toString().isEmpty())
            return finished(wrongType(QStringLiteral("name_prefix"), QStringLiteral("a non-empty string (leave it out for <vm>-fork)")));
        options.namePrefix = prefix.toString();
    }
    // The forks are <prefix>-<n> (<vm>-fork-<n> without one): a token kept
    // to some VMs makes only VMs it may use.
    // (QString() around each: Qt 6.8's QStringBuilder types of the two
    // branches differ.)
    const QString firstFork = options.namePrefix.isEmpty() ? QString(request.param(QStringLiteral("name")).left(50) + QStringLiteral("-fork-1"))
                                                           : QString(options.namePrefix + QStringLiteral("-1"));
    if (!request.caller.mayUseVm(firstFork))
        return finished(ApiError(ApiError::Code::Forbidden, QStringLiteral("this token may make VMs named %1 only").arg(request.caller.vmGlob)));
    options.owner = request.caller.tokenId; // the forks count against its quota
    return answerWhen(m_manager.fork(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")), options), this,
                      [this](const QStringList &forks) { return forksAnswer(forks); });
}

ApiResult SnapshotController::forksAnswer(const QStringList &forks) const
{
    QJsonArray vms;
    for (const QString &fork : forks) {
        auto info = m_manager.info(fork);
        if (!info)
            return ApiError::fromCore(info.error());
        vms.append(vmToJson(*info));
    }
    return Response::ofJson(QJsonObject{{QStringLiteral("vms"), vms}}, true);
}

ApiFuture SnapshotController::deleteSnapshot(const Request &request)
{
    auto r = m_manager.deleteSnapshot(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")));
    if (!r)
        return finished(ApiError::fromCore(r.error()));
    return finished(Response::empty());
}

} // namespace Server
