#include "core/net/taplink.h"

#include "core/net/hosttool.h"

#include <QDir>
#include <QFile>

namespace Net {

namespace {

constexpr char kSysNet[] = "/sys/class/net";
constexpr char kIpForward[] = "/proc/sys/net/ipv4/ip_forward";

Core::Result writeSysctl(const QString &path, const QByteArray &value, const QString &what)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(value) != value.size() || !f.flush())
        return Core::Error(f.error() == QFile::PermissionsError ? Core::ErrorCode::PermissionDenied : Core::ErrorCode::Io,
                           QStringLiteral("cannot %1: writing %2 to %3 failed: %4").arg(what, QString::fromLatin1(value.trimmed()), path, f.errorString()));
    return {};
}

Core::Result ip(const QStringList &arguments, const QString &what)
{
    auto out = HostTool::run(QStringLiteral("ip"), arguments, what);
    if (!out)
        return out.error();
    return {};
}

} // namespace

Core::Result TapLink::enableForwarding()
{
    QFile f(QString::fromLatin1(kIpForward));
    if (f.open(QIODevice::ReadOnly) && f.readAll().trimmed() == "1")
        return {};
    return writeSysctl(QString::fromLatin1(kIpForward), "1\n", QStringLiteral("turn on IPv4 forwarding"));
}

Core::Result TapLink::configure(const QString &tap, const VmAddress &address)
{
    const QString disable6 = QStringLiteral("/proc/sys/net/ipv6/conf/%1/disable_ipv6").arg(tap);
    if (QFile::exists(disable6)) // absent when the kernel has IPv6 off
        if (auto ok = writeSysctl(disable6, "1\n", QStringLiteral("turn off IPv6 on tap %1").arg(tap)); !ok)
            return ok;
    const QString gateway = QStringLiteral("%1/%2").arg(address.gateway.toString()).arg(address.prefix);
    // replace: idempotent (a retried attach, an address left from before).
    if (auto ok = ip({QStringLiteral("address"), QStringLiteral("replace"), gateway, QStringLiteral("dev"), tap},
                     QStringLiteral("put the gateway address %1 on tap %2").arg(gateway, tap));
        !ok)
        return ok;
    return ip({QStringLiteral("link"), QStringLiteral("set"), QStringLiteral("dev"), tap, QStringLiteral("up")}, QStringLiteral("set tap %1 up").arg(tap));
}

Core::Result TapLink::unconfigure(const QString &tap)
{
    if (!exists(tap))
        return {};
    auto down =
        ip({QStringLiteral("link"), QStringLiteral("set"), QStringLiteral("dev"), tap, QStringLiteral("down")}, QStringLiteral("set tap %1 down").arg(tap));
    auto flushed =
        ip({QStringLiteral("address"), QStringLiteral("flush"), QStringLiteral("dev"), tap}, QStringLiteral("remove the addresses of tap %1").arg(tap));
    if (!exists(tap)) // it went meanwhile (its VMM exited)
        return {};
    return !down ? down : flushed;
}

Core::Result TapLink::remove(const QString &tap)
{
    if (auto ok = unconfigure(tap); !ok)
        return ok;
    QFile flags(QStringLiteral("%1/%2/tun_flags").arg(QLatin1String(kSysNet), tap));
    // A persistent tap (IFF_PERSIST, 0x0800) outlives its descriptors: delete it.
    if (flags.open(QIODevice::ReadOnly) && (flags.readAll().trimmed().toUInt(nullptr, 16) & 0x0800))
        return ip({QStringLiteral("tuntap"), QStringLiteral("del"), QStringLiteral("dev"), tap, QStringLiteral("mode"), QStringLiteral("tap")},
                  QStringLiteral("delete the persistent tap %1").arg(tap));
    return {};
}

QStringList TapLink::interfaces(const QString &prefix)
{
    QStringList out;
    const QStringList names = QDir(QLatin1String(kSysNet)).entryList(QDir::Dirs | QDir::System | QDir::NoDotAndDotDot);
    for (const QString &n : names)
        if (n.startsWith(prefix))
            out << n;
    return out;
}

bool TapLink::exists(const QString &tap)
{
    return QFile::exists(QStringLiteral("%1/%2").arg(QLatin1String(kSysNet), tap));
}

} // namespace Net
