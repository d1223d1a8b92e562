#include "server/portcontroller.h"

#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

using namespace ApiJson;

namespace {

// A JSON port number: an integer from `lowest` to 65535.
std::optional<quint16> portField(const QJsonValue &v, int lowest)
{
    if (!isInteger(v) || v.toInt() < lowest || v.toInt() > 65535)
        return std::nullopt;
    return static_cast<quint16>(v.toInt());
}

// The body of POST .../ports, checked field by field.
ApiExpected<Vm::PortExposure> exposureFrom(const QByteArray &body)
{
    auto parsed = parseObject(body, {QStringLiteral("guest_port"), QStringLiteral("host_address"), QStringLiteral("host_port")});
    if (!parsed)
        return parsed.error();
    const QJsonObject &o = *parsed;
    Vm::PortExposure e;
    const auto guest = portField(o.value(QStringLiteral("guest_port")), 1);
    if (!guest)
        return wrongType(QStringLiteral("guest_port"), QStringLiteral("an integer from 1 to 65535 (required)"));
    e.guestPort = *guest;
    if (o.contains(QStringLiteral("host_address"))) {
        const QJsonValue address = o.value(QStringLiteral("host_address"));
        e.hostAddress = QHostAddress(address.toString());
        if (!address.isString() || e.hostAddress.isNull())
            return wrongType(QStringLiteral("host_address"), QStringLiteral("an IP address of this host, such as 127.0.0.1 (the default) or ::1"));
    }
    if (o.contains(QStringLiteral("host_port"))) {
        const auto host = portField(o.value(QStringLiteral("host_port")), 0);
        if (!host)
            return wrongType(QStringLiteral("host_port"), QStringLiteral("an integer from 0 (any free port, the default) to 65535"));
        e.hostPort = *host;
    }
    if (auto ok = e.validate(); !ok) {
        ApiError error = ApiError::fromCore(ok.error());
        error.message = QStringLiteral("field 'host_address': %1").arg(error.message);
        return error;
    }
    return e;
}

} // namespace

PortController::PortController(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
}

void PortController::addRoutes(Router &router)
{
    using C = PortController;
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/ports"), this, &C::exposePort, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/ports"), this, &C::listPorts, {.role = Role::Viewer});
    router.add("DELETE", QStringLiteral("/api/v1/vms/{name}/ports/{port}"), this, &C::unexposePort, {.role = Role::Operator});
}

ApiFuture PortController::exposePort(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    // An unknown VM is 404 whatever the body says.
    if (auto info = m_manager.info(name); !info)
        return finished(ApiError::fromCore(info.error()));
    auto exposure = exposureFrom(request.body);
    if (!exposure)
        return finished(exposure.error());
    auto status = m_manager.exposePort(name, *exposure);
    if (!status)
        return finished(ApiError::fromCore(status.error()));
    return finished(Response::ofJson(portToJson(*status), true));
}

ApiFuture PortController::listPorts(const Request &request)
{
    auto list = m_manager.ports(request.param(QStringLiteral("name")));
    if (!list)
        return finished(ApiError::fromCore(list.error()));
    QJsonArray out;
    for (const Vm::VmPorts::Status &s : *list)
        out.append(portToJson(s));
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("ports"), out}}));
}

ApiFuture PortController::unexposePort(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    if (auto info = m_manager.info(name); !info)
        return finished(ApiError::fromCore(info.error()));
    bool ok = false;
    const int port = request.param(QStringLiteral("port")).toInt(&ok);
    if (!ok || port < 1 || port > 65535)
        return finished(
            ApiError(ApiError::Code::InvalidArgument,
                     QStringLiteral("'%1' is not a guest port: give the exposed guest port, 1 to 65535").arg(request.param(QStringLiteral("port")).left(16))));
    if (auto r = m_manager.unexposePort(name, static_cast<quint16>(port)); !r)
        return finished(ApiError::fromCore(r.error()));
    return finished(Response::empty());
}

} // namespace Server
