#include "server/vmcontroller.h"

#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/metrics.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

using namespace ApiJson;

VmController::VmController(Vm::VmManager &manager, Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_metrics(metrics)
{
}

void VmController::countBoot(const QString &name)
{
    const auto info = m_manager.info(name);
    if (info && info->bootMs > 0)
        m_metrics.recordVmBoot(name, static_cast<double>(info->bootMs) / 1000.0);
}

void VmController::addRoutes(Router &router)
{
    using C = VmController;
    router.add("GET", QStringLiteral("/api/v1/vms"), this, &C::listVms, {.role = Role::Viewer});
    router.add("POST", QStringLiteral("/api/v1/vms"), this, &C::createVm, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}"), this, &C::getVm, {.role = Role::Viewer});
    router.add("DELETE", QStringLiteral("/api/v1/vms/{name}"), this, &C::deleteVm, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/start"), this, &C::startVm, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/stop"), this, &C::stopVm, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/pause"), this, &C::pauseVm, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/resume"), this, &C::resumeVm, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/restart"), this, &C::restartVm, {.role = Role::Operator});
    router.add("PATCH", QStringLiteral("/api/v1/vms/{name}/resources"), this, &C::resizeVm, {.role = Role::Operator});
}

namespace {

// vcpus, memory_mb and max_vcpus, each an integer when given.
std::optional<ApiError> readShape(const QJsonObject &o, std::optional<int> &vcpus, std::optional<int> &memoryMiB, std::optional<int> &maxVcpus)
{
    const std::pair<QString, std::optional<int> *> fields[] = {
        {QStringLiteral("vcpus"), &vcpus}, {QStringLiteral("memory_mb"), &memoryMiB}, {QStringLiteral("max_vcpus"), &maxVcpus}};
    for (const auto &[key, out] : fields) {
        if (!o.contains(key))
            continue;
        if (!isInteger(o.value(key)))
            return wrongType(key, QStringLiteral("an integer"));
        *out = o.value(key).toInt();
    }
    return std::nullopt;
}

} // namespace

ApiFuture VmController::listVms(const Request &request)
{
    QJsonArray list;
    for (const Vm::VmInfo &info : m_manager.list()) {
        if (request.caller.mayUseVm(info.record.name))
            list.append(vmToJson(info));
    }
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("vms"), list}}));
}

ApiFuture VmController::createVm(const Request &request)
{
    auto parsed = parseObject(request.body,
                              {QStringLiteral("name"), QStringLiteral("template"), QStringLiteral("vcpus"), QStringLiteral("memory_mb"),
                               QStringLiteral("max_vcpus"), QStringLiteral("start"), QStringLiteral("network")});
    if (!parsed)
        return finished(parsed.error());
    const QJsonObject &o = *parsed;

    Vm::VmManager::CreateOptions options;
    const QJsonValue name = o.value(QStringLiteral("name"));
    if (!name.isString())
        return finished(wrongType(QStringLiteral("name"), QStringLiteral("a string (required)")));
    options.name = name.toString();
    if (!request.caller.mayUseVm(options.name))
        return finished(ApiError(ApiError::Code::Forbidden, QStringLiteral("this token may make VMs named %1 only").arg(request.caller.vmGlob)));
    const QJsonValue tmpl = o.value(QStringLiteral("template"));
    if (!tmpl.isString())
        return finished(wrongType(QStringLiteral("template"), QStringLiteral("a string (required)")));
    options.templateName = tmpl.toString();
    options.owner = request.caller.tokenId; // the VM counts against its quota
    if (auto bad = readShape(o, options.vcpus, options.memoryMiB, options.maxVcpus))
        return finished(*bad);
    if (o.contains(QStringLiteral("network"))) {
        const QJsonValue network = o.value(QStringLiteral("network"));
        if (!network.isObject())
            return finished(wrongType(QStringLiteral("network"), QStringLiteral("an object: {mode, private_network, policy}")));
        auto spec = Templates::NetworkSpec::fromJson(network.toObject(), QStringLiteral("network"));
        if (!spec)
            return finished(ApiError::fromCore(spec.error()));
        options.network = *spec;
    }
    bool start = true;
    if (o.contains(QStringLiteral("start"))) {
        if (!o.value(QStringLiteral("start")).isBool())
            return finished(wrongType(QStringLiteral("start"), QStringLiteral("true or false")));
        start = o.value(QStringLiteral("start")).toBool();
    }

    auto created = m_manager.create(options);
    if (!created)
        return finished(ApiError::fromCore(created.error()));
    if (!start)
        return finished(Response::ofJson(vmToJson(*created), true));
    return startCreated(options.name);
}

ApiFuture VmController::startCreated(const QString &name)
{
    // Started as part of creation: a VM that does not start is not kept.
    ApiPromise reply;
    Core::whenDone(m_manager.start(name), this, [this, reply, name](const Core::Result &r) {
        if (r) {
            countBoot(name);
            reply.resolve(vmAnswer(m_manager, name, true));
            return;
        }
        ApiError error = ApiError::fromCore(r.error());
        error.message = QStringLiteral("VM %1 did not start and was removed: %2").arg(name, error.message);
        Core::whenDone(m_manager.remove(name), this, [reply, error](const Core::Result &) { reply.resolve(error); });
    });
    return reply.future();
}

ApiFuture VmController::resizeVm(const Request &request)
{
    auto parsed = parseObject(request.body, {QStringLiteral("vcpus"), QStringLiteral("memory_mb"), QStringLiteral("max_vcpus")});
    if (!parsed)
        return finished(parsed.error());
    Vm::VmManager::Resources resources;
    if (auto bad = readShape(*parsed, resources.vcpus, resources.memoryMiB, resources.maxVcpus))
        return finished(*bad);
    const QString name = request.param(QStringLiteral("name"));
    return answerWhen(m_manager.resize(name, resources), this, [this, name]() { return vmAnswer(m_manager, name); });
}

ApiFuture VmController::getVm(const Request &request)
{
    return finished(vmAnswer(m_manager, request.param(QStringLiteral("name"))));
}

ApiFuture VmController::deleteVm(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    return answerWhen(m_manager.remove(name), this, [name]() {
        return Response::ofJson(QJsonObject{{QStringLiteral("name"), name}, {QStringLiteral("deleted"), true}});
    });
}

ApiFuture VmController::vmAction(const Request &request, Core::Future<void> (Vm::VmManager::*operation)(const QString &))
{
    const QString name = request.param(QStringLiteral("name"));
    const bool boots = operation == &Vm::VmManager::start || operation == &Vm::VmManager::restart;
    return answerWhen((m_manager.*operation)(name), this, [this, name, boots]() {
        if (boots)
            countBoot(name);
        return vmAnswer(m_manager, name);
    });
}

ApiFuture VmController::startVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::start);
}

ApiFuture VmController::stopVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::stop);
}

ApiFuture VmController::pauseVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::pause);
}

ApiFuture VmController::resumeVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::resume);
}

ApiFuture VmController::restartVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::restart);
}

} // namespace Server
