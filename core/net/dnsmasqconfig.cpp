#include "core/net/dnsmasqconfig.h"

#include "core/net/nftruleset.h"

#include <QRegularExpression>

namespace Net {
namespace {

Core::Error configError(const QString &what)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("dnsmasq config: %1").arg(what));
}

Core::Result checkUpstream(const QString &u, const QHostAddress &listen)
{
    const qsizetype hash = u.indexOf(QLatin1Char('#'));
    const QHostAddress a(hash < 0 ? u : u.left(hash));
    bool portOk = true;
    const int port = hash < 0 ? NftRuleset::kDnsPort : u.mid(hash + 1).toInt(&portOk);
    if (a.isNull() || !a.scopeId().isEmpty() || !portOk || port < 1 || port > 65535)
        return configError(QStringLiteral("upstream '%1' is not an address or address#port").arg(u));
    if (a == listen && port == NftRuleset::kDnsPort)
        return configError(QStringLiteral("upstream %1 is the resolver itself").arg(u));
    return {};
}

Core::Result checkPath(const QString &path, const char *what)
{
    if (!path.startsWith(QLatin1Char('/')) || path.contains(QLatin1Char('\n')) || path.contains(QLatin1Char('\r')))
        return configError(QStringLiteral("%1 must be an absolute path on one line").arg(QLatin1String(what)));
    return {};
}

// The allow domain patterns that dnsmasq forwards: those no deny rule names
// with the same pattern (deny wins a tie).
QList<PolicyRule> forwardedAllows(const NetworkPolicy &p)
{
    QList<PolicyRule> out;
    for (const PolicyRule &r : p.allow) {
        const bool denied = std::any_of(p.deny.begin(), p.deny.end(), [&](const PolicyRule &d) { return d.domain == r.domain; });
        if (r.hasDomain() && !denied)
            out << r;
    }
    return out;
}

QString header(const DnsmasqConfig &c)
{
    QString s = QStringLiteral("# microvm-sandbox: the resolver of VM slot %1 (table %2). Generated.\n").arg(c.slot).arg(c.table);
    s += QStringLiteral("listen-address=%1\nbind-interfaces\nport=%2\n").arg(c.listenAddress.toString()).arg(NftRuleset::kDnsPort);
    s += QStringLiteral("# Nothing of the host's: no resolv.conf, no /etc/hosts, no DHCP.\nno-resolv\nno-hosts\n");
    if (c.inUserNamespace)
        s += QStringLiteral("# Root of a user namespace mapping no other user: stays so.\nuser=root\ngroup=\n");
    s += QStringLiteral("domain-needed\nbogus-priv\ncache-size=%1\n").arg(DnsmasqConfig::kCacheSize);
    s += QStringLiteral("pid-file=%1\nlog-facility=%2\n").arg(c.pidFile, c.logFile);
    if (c.logQueries)
        s += QStringLiteral("log-queries\n");
    return s;
}

} // namespace

Core::Expected<QString> DnsmasqConfig::text() const
{
    static const QRegularExpression tableName(QRegularExpression::anchoredPattern(QStringLiteral("mvs_[a-z0-9]{1,16}")));
    if (!tableName.match(table).hasMatch() || slot < 0 || slot > NftRuleset::kMaxSlot)
        return configError(QStringLiteral("table '%1' / slot %2 is not an instance's").arg(table).arg(slot));
    if (listenAddress.protocol() != QAbstractSocket::IPv4Protocol)
        return configError(QStringLiteral("the listen address must be the VM's IPv4 gateway"));
    if (upstreams.isEmpty() || upstreams.size() > kMaxUpstreams)
        return configError(QStringLiteral("give 1-%1 upstream resolvers").arg(kMaxUpstreams));
    for (const QString &u : upstreams)
        if (auto ok = checkUpstream(u, listenAddress); !ok)
            return ok.error();
    if (auto ok = checkPath(pidFile, "pid_file"); !ok)
        return ok.error();
    if (auto ok = checkPath(logFile, "log_file"); !ok)
        return ok.error();

    QString s = header(*this);
    const bool denyByDefault = policy.defaultAction == NetworkPolicy::Default::Deny;
    s += denyByDefault ? QStringLiteral("# Default deny: every name answers NXDOMAIN but the allowed ones.\naddress=/#/\n")
                       : QStringLiteral("# Default allow: every name is forwarded but the denied ones.\n");
    if (!denyByDefault)
        for (const QString &u : upstreams)
            s += QStringLiteral("server=%1\n").arg(u);
    const QList<QList<PortRange>> groups = NftRuleset::dnsGroups(policy);
    for (const PolicyRule &r : forwardedAllows(policy)) {
        for (const QString &u : upstreams)
            s += QStringLiteral("server=/%1/%2\n").arg(r.domain, u);
        const int g = int(groups.indexOf(r.ports));
        s += QStringLiteral("nftset=/%1/4#inet#%2#%3,6#inet#%2#%4\n")
                 .arg(r.domain, table, NftRuleset::dnsSetName(slot, g, false), NftRuleset::dnsSetName(slot, g, true));
    }
    for (const PolicyRule &r : policy.deny)
        if (r.hasDomain())
            s += QStringLiteral("address=/%1/\n").arg(r.domain);
    return s;
}

QStringList DnsmasqConfig::nameservers(const QByteArray &resolvConf)
{
    QStringList out;
    for (const QByteArray &line : resolvConf.split('\n')) {
        const QList<QByteArray> f = line.simplified().split(' ');
        if (f.size() >= 2 && f.at(0) == "nameserver") {
            const QHostAddress a(QString::fromLatin1(f.at(1)));
            if (!a.isNull() && a.scopeId().isEmpty() && !out.contains(a.toString()))
                out << a.toString();
        }
    }
    return out;
}

} // namespace Net
