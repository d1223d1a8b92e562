#include "core/vm/portexposure.h"

#include <QNetworkInterface>

namespace Vm {
namespace {

std::optional<quint16> portFrom(const QJsonValue &v, bool zeroOk)
{
    if (!v.isDouble())
        return std::nullopt;
    const double d = v.toDouble();
    if (d != static_cast<double>(static_cast<int>(d)) || d < (zeroOk ? 0 : 1) || d > 65535)
        return std::nullopt;
    return static_cast<quint16>(d);
}

} // namespace

bool isLocalAddress(const QHostAddress &address)
{
    if (address.isNull())
        return false;
    if (address.isLoopback() || address == QHostAddress(QHostAddress::AnyIPv4) || address == QHostAddress(QHostAddress::AnyIPv6))
        return true;
    const QList<QHostAddress> local = QNetworkInterface::allAddresses();
    return std::any_of(local.cbegin(), local.cend(), [&address](const QHostAddress &a) { return a.isEqual(address, QHostAddress::StrictConversion); });
}

Core::Result PortExposure::validate() const
{
    if (guestPort == 0)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("guest port 0 cannot be exposed: give a port from 1 to 65535"));
    if (hostAddress.isNull())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the host address must be an IP address, such as 127.0.0.1"));
    if (!isLocalAddress(hostAddress))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("host address %1 is not an address of this host: use a loopback address (127.0.0.1, ::1), 0.0.0.0 or :: "
                                          "for all of them, or an address of one of its interfaces")
                               .arg(hostAddress.toString()));
    return {};
}

QJsonObject PortExposure::toJson() const
{
    QJsonObject o{{QStringLiteral("guest_port"), guestPort}, {QStringLiteral("host_address"), hostAddress.toString()}, {QStringLiteral("host_port"), hostPort}};
    if (lastHostPort != 0)
        o[QStringLiteral("last_host_port")] = lastHostPort;
    return o;
}

std::optional<PortExposure> PortExposure::fromJson(const QJsonObject &json)
{
    PortExposure p;
    const auto guest = portFrom(json.value(QStringLiteral("guest_port")), false);
    const auto host = portFrom(json.value(QStringLiteral("host_port")), true);
    const QHostAddress address(json.value(QStringLiteral("host_address")).toString());
    if (!guest || !host || address.isNull())
        return std::nullopt;
    p.guestPort = *guest;
    p.hostPort = *host;
    p.hostAddress = address;
    if (json.contains(QStringLiteral("last_host_port"))) {
        const auto last = portFrom(json.value(QStringLiteral("last_host_port")), false);
        if (!last)
            return std::nullopt;
        p.lastHostPort = *last;
    }
    return p;
}

} // namespace Vm
