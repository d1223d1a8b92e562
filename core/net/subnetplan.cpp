#include "core/net/subnetplan.h"

#include <QCryptographicHash>
#include <QFile>
#include <QtEndian>

namespace Net {
namespace {

constexpr int kRouteIpv4Fields = 8; // Iface Destination Gateway Flags RefCnt Use Metric Mask
constexpr int kRouteIpv6Fields = 10;
constexpr int kIpv6HexLength = 32;
constexpr int kMaxMacAttempts = 4096;
constexpr qint64 kMaxRouteFileBytes = 16 * 1024 * 1024;

// /proc/net/route prints the network-order word as a host-order number: ntohl it.
quint32 procHexToIpv4(const QByteArray &hex, bool *ok)
{
    const quint32 raw = hex.toUInt(ok, 16);
    return qFromBigEndian(raw);
}

void parseIpv4Routes(const QByteArray &text, QList<Cidr> &out)
{
    const QList<QByteArray> lines = text.split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) { // the first line is the header
        const QList<QByteArray> f = lines.at(i).simplified().split(' ');
        if (f.size() < kRouteIpv4Fields)
            continue;
        bool okDest = false;
        bool okMask = false;
        const quint32 dest = procHexToIpv4(f.at(1), &okDest);
        const quint32 mask = procHexToIpv4(f.at(7), &okMask);
        if (!okDest || !okMask)
            continue;
        const int prefix = qPopulationCount(mask);
        out << Cidr(QHostAddress(dest), prefix);
    }
}

void parseIpv6Routes(const QByteArray &text, QList<Cidr> &out)
{
    for (const QByteArray &line : text.split('\n')) {
        const QList<QByteArray> f = line.simplified().split(' ');
        if (f.size() < kRouteIpv6Fields || f.at(0).size() != kIpv6HexLength)
            continue;
        const QByteArray bytes = QByteArray::fromHex(f.at(0));
        bool ok = false;
        const int prefix = f.at(1).toInt(&ok, 16);
        if (!ok || bytes.size() != 16 || prefix > 128)
            continue;
        Q_IPV6ADDR a;
        std::copy(bytes.begin(), bytes.end(), a.c);
        out << Cidr(QHostAddress(a), prefix);
    }
}

QByteArray readProc(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.read(kMaxRouteFileBytes) : QByteArray();
}

Core::Error planError(const QString &what)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, what);
}

// Why candidate cannot be the VM subnet, or empty.
QString conflict(const Cidr &candidate, const HostRoutes &routes, const QList<QHostAddress> &avoid)
{
    for (const Cidr &r : routes.routes)
        if (!r.isV6() && r.prefix() >= SubnetPlan::kMinRoutePrefix && r.overlaps(candidate))
            return QStringLiteral("it overlaps the host's route to %1").arg(r.toString());
    for (const QHostAddress &a : avoid)
        if (candidate.contains(a))
            return QStringLiteral("it holds %1, which the host uses").arg(a.toString());
    return {};
}

} // namespace

HostRoutes HostRoutes::parse(const QByteArray &ipv4RouteText, const QByteArray &ipv6RouteText)
{
    HostRoutes h;
    parseIpv4Routes(ipv4RouteText, h.routes);
    parseIpv6Routes(ipv6RouteText, h.routes);
    return h;
}

HostRoutes HostRoutes::read()
{
    return parse(readProc(QStringLiteral("/proc/net/route")), readProc(QStringLiteral("/proc/net/ipv6_route")));
}

const QStringList &SubnetPlan::defaultCandidates()
{
    // Away from the usual LANs (10.0/16, 192.168/16) and Docker's pools (172.17-31).
    static const QStringList c = {QStringLiteral("10.213.0.0/16"), QStringLiteral("10.214.0.0/16"),   QStringLiteral("10.215.0.0/16"),
                                  QStringLiteral("10.216.0.0/16"), QStringLiteral("172.16.128.0/20"), QStringLiteral("172.16.144.0/20")};
    return c;
}

Core::Expected<SubnetPlan> SubnetPlan::choose(const QStringList &candidates, const HostRoutes &routes, const QList<QHostAddress> &avoid)
{
    const QStringList list = candidates.isEmpty() ? defaultCandidates() : candidates;
    QStringList skipped;
    for (const QString &text : list) {
        auto c = Cidr::parse(text);
        if (!c)
            return planError(QStringLiteral("network subnet: %1").arg(c.error().message));
        if (c->isV6())
            return planError(QStringLiteral("network subnet %1: IPv6 VM subnets are not supported yet (give an IPv4 network)").arg(text));
        if (c->prefix() < kMinSubnetPrefix || c->prefix() > kMaxSubnetPrefix)
            return planError(QStringLiteral("network subnet %1: the prefix must be /%2 to /%3").arg(text).arg(kMinSubnetPrefix).arg(kMaxSubnetPrefix));
        const QString why = conflict(*c, routes, avoid);
        if (why.isEmpty()) {
            SubnetPlan plan;
            plan.m_subnet = *c;
            return plan;
        }
        skipped << QStringLiteral("%1 (%2)").arg(text, why);
    }
    return planError(QStringLiteral("no VM subnet is free: %1; configure one that no route of this host uses").arg(skipped.join(QStringLiteral(", "))));
}

Core::Expected<VmAddress> SubnetPlan::address(int slot) const
{
    if (slot < 0 || slot >= slotCount())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("VM slot %1 is outside subnet %2 (0-%3)").arg(slot).arg(m_subnet.toString()).arg(slotCount() - 1));
    const quint32 base = quint32(slot) * kBlockSize;
    VmAddress a;
    a.slot = slot;
    a.block = Cidr(m_subnet.ipv4At(base), kVmPrefix);
    a.gateway = m_subnet.ipv4At(base + 1);
    a.address = m_subnet.ipv4At(base + 2);
    a.prefix = kVmPrefix;
    return a;
}

Core::Expected<int> SubnetPlan::freeSlot(const QSet<int> &taken) const
{
    for (int s = 0; s < slotCount(); ++s)
        if (!taken.contains(s))
            return s;
    return Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("all %1 VM addresses of subnet %2 are taken").arg(slotCount()).arg(m_subnet.toString()));
}

QString macForVm(const QString &vmId, const QSet<QString> &taken)
{
    for (int attempt = 0; attempt < kMaxMacAttempts; ++attempt) {
        const QString seed = attempt == 0 ? vmId : QStringLiteral("%1#%2").arg(vmId).arg(attempt);
        QByteArray b = QCryptographicHash::hash(seed.toUtf8(), QCryptographicHash::Sha256).left(6);
        b[0] = char((quint8(b[0]) & 0xfc) | 0x02); // unicast, locally administered
        const QString mac = QString::fromLatin1(b.toHex(':'));
        if (!taken.contains(mac))
            return mac;
    }
    return {};
}

} // namespace Net
