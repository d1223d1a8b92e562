#include "core/net/guestnet.h"

#include "protocol/netspec.h"

namespace Net::GuestNet {

Core::Expected<QString> spec(const VmAddress &address, const QString &mac)
{
    auto invalid = [](const QString &m) { return Core::Error(Core::ErrorCode::InvalidArgument, m); };
    bool v4 = false, gwV4 = false;
    const quint32 ip = address.address.toIPv4Address(&v4);
    const quint32 gw = address.gateway.toIPv4Address(&gwV4);
    if (!v4 || !gwV4)
        return invalid(QStringLiteral("the guest's network is IPv4 only: %1 via %2").arg(address.address.toString(), address.gateway.toString()));
    const auto parsedMac = Protocol::NetSpec::parseMac(mac.toStdString());
    if (!parsedMac)
        return invalid(QStringLiteral("bad MAC '%1' (six hex bytes, unicast)").arg(mac));
    const QString text = QString::fromStdString(Protocol::NetSpec{ip, address.prefix, gw, *parsedMac}.format());
    // The guest's own parser decides: the prefix, and the gateway in the network.
    if (!Protocol::NetSpec::parse(text.toStdString()))
        return invalid(
            QStringLiteral("the gateway %1 is not another address in %2/%3").arg(address.gateway.toString(), address.address.toString()).arg(address.prefix));
    return text;
}

Core::Expected<QString> kernelArgument(const VmAddress &address, const QString &mac)
{
    auto s = spec(address, mac);
    if (!s)
        return s.error();
    return QString(QString::fromLatin1(Protocol::kNetSpecKernelArg.data(), qsizetype(Protocol::kNetSpecKernelArg.size())) + QLatin1Char('=') + *s);
}

Core::Expected<QStringList> configureNetCommand(const VmAddress &address, const QString &mac)
{
    auto s = spec(address, mac);
    if (!s)
        return s.error();
    return QStringList{QString::fromLatin1(kAgentCommand),
                       QString::fromLatin1(Protocol::kConfigureNetOption.data(), qsizetype(Protocol::kConfigureNetOption.size())), *s};
}

} // namespace Net::GuestNet
