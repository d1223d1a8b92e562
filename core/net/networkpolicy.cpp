#include "core/net/networkpolicy.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace Net {
namespace {

constexpr int kMaxRules = 256; // per list
constexpr int kMaxPortsPerRule = 64;
constexpr int kMaxDomainLength = 253;

Core::Error policyError(const QString &where, const QString &what)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("%1: %2").arg(where, what));
}

QString protocolSuffix(Transport p)
{
    switch (p) {
    case Transport::Tcp: return QStringLiteral("/tcp");
    case Transport::Udp: return QStringLiteral("/udp");
    case Transport::Any: break;
    }
    return {};
}

Core::Expected<QList<PortRange>> parsePorts(const QJsonValue &v, const QString &where)
{
    if (!v.isArray())
        return policyError(where, QStringLiteral("must be a list of ports (443, \"8000-8100\", \"53/udp\")"));
    const QJsonArray a = v.toArray();
    if (a.isEmpty() || a.size() > kMaxPortsPerRule)
        return policyError(where, QStringLiteral("must list 1-%1 ports").arg(kMaxPortsPerRule));
    QList<PortRange> out;
    for (int i = 0; i < a.size(); ++i) {
        const QString field = QStringLiteral("%1[%2]").arg(where).arg(i);
        QString text;
        if (a.at(i).isDouble())
            text = QString::number(a.at(i).toDouble(), 'g', 10);
        else if (a.at(i).isString())
            text = a.at(i).toString();
        else
            return policyError(field, QStringLiteral("must be a number or a string"));
        auto p = PortRange::parse(text);
        if (!p)
            return policyError(field, p.error().message);
        out << *p;
    }
    return out;
}

// A string entry: a network if it parses as one, else a domain pattern.
Core::Expected<PolicyRule> parseRuleString(const QString &text, const QString &where)
{
    PolicyRule r;
    if (text.contains(QLatin1Char(':')) || text.contains(QLatin1Char('/')) || QHostAddress(text).protocol() == QAbstractSocket::IPv4Protocol) {
        auto c = Cidr::parse(text);
        if (!c)
            return policyError(where, c.error().message);
        r.cidr = *c;
        return r;
    }
    auto d = normaliseDomainPattern(text, where);
    if (!d)
        return d.error();
    r.domain = *d;
    return r;
}

Core::Expected<PolicyRule> parseRuleObject(const QJsonObject &o, const QString &where)
{
    for (auto it = o.begin(); it != o.end(); ++it)
        if (it.key() != QLatin1String("domain") && it.key() != QLatin1String("cidr") && it.key() != QLatin1String("ports"))
            return policyError(QStringLiteral("%1.%2").arg(where, it.key()), QStringLiteral("unknown field (domain, cidr, ports)"));
    PolicyRule r;
    if (o.contains(QLatin1String("domain"))) {
        if (!o.value(QLatin1String("domain")).isString())
            return policyError(where + QStringLiteral(".domain"), QStringLiteral("must be a string"));
        auto d = normaliseDomainPattern(o.value(QLatin1String("domain")).toString(), where + QStringLiteral(".domain"));
        if (!d)
            return d.error();
        r.domain = *d;
    }
    if (o.contains(QLatin1String("cidr"))) {
        if (r.hasDomain())
            return policyError(where, QStringLiteral("names a domain and a cidr: a rule has one destination (write two rules)"));
        auto c = Cidr::parse(o.value(QLatin1String("cidr")).toString());
        if (!o.value(QLatin1String("cidr")).isString() || !c)
            return policyError(where + QStringLiteral(".cidr"), c ? QStringLiteral("must be a string") : c.error().message);
        r.cidr = *c;
    }
    if (o.contains(QLatin1String("ports"))) {
        auto p = parsePorts(o.value(QLatin1String("ports")), where + QStringLiteral(".ports"));
        if (!p)
            return p.error();
        r.ports = *p;
    }
    if (!r.hasDomain() && !r.hasCidr() && r.ports.isEmpty())
        return policyError(where, QStringLiteral("needs a domain, a cidr or ports"));
    return r;
}

Core::Expected<QList<PolicyRule>> parseRules(const QJsonValue &v, const QString &where)
{
    if (v.isUndefined() || v.isNull())
        return QList<PolicyRule>{};
    if (!v.isArray())
        return policyError(where, QStringLiteral("must be a list of rules"));
    const QJsonArray a = v.toArray();
    if (a.size() > kMaxRules)
        return policyError(where, QStringLiteral("has %1 rules; at most %2").arg(a.size()).arg(kMaxRules));
    QList<PolicyRule> out;
    for (int i = 0; i < a.size(); ++i) {
        const QString field = QStringLiteral("%1[%2]").arg(where).arg(i);
        Core::Expected<PolicyRule> r = a.at(i).isString() ? parseRuleString(a.at(i).toString(), field)
            : a.at(i).isObject()                          ? parseRuleObject(a.at(i).toObject(), field)
                                                          : Core::Expected<PolicyRule>(policyError(field, QStringLiteral("must be a string or an object")));
        if (!r)
            return r.error();
        out << *r;
    }
    return out;
}

// The best domain rule for name among rules: label patterns first, then the
// longest; nullptr when none matches.
const PolicyRule *bestMatch(const QList<PolicyRule> &rules, const QString &name, bool wildcard)
{
    const PolicyRule *best = nullptr;
    for (const PolicyRule &r : rules)
        if (r.hasDomain() && r.isWildcard() == wildcard && r.matchesDomain(name) && (!best || r.domain.size() > best->domain.size()))
            best = &r;
    return best;
}

} // namespace

Core::Expected<PortRange> PortRange::parse(const QString &text)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("([0-9]{1,5})(?:-([0-9]{1,5}))?(?:/(tcp|udp))?")));
    const auto m = re.match(text.trimmed().toLower());
    if (!m.hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("'%1' is not a port: write 443, 8000-8100, 53/udp or 1000-2000/tcp").arg(text));
    const int first = m.captured(1).toInt();
    const int last = m.captured(2).isEmpty() ? first : m.captured(2).toInt();
    if (first < 1 || last > 65535 || first > last)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("'%1': ports are 1-65535, a range low-high").arg(text));
    PortRange p;
    p.first = quint16(first);
    p.last = quint16(last);
    p.protocol = m.captured(3) == QLatin1String("tcp") ? Transport::Tcp : m.captured(3) == QLatin1String("udp") ? Transport::Udp : Transport::Any;
    return p;
}

QString PortRange::toString() const
{
    const QString range = first == last ? QString::number(first) : QStringLiteral("%1-%2").arg(first).arg(last);
    return range + protocolSuffix(protocol);
}

Core::Expected<QString> normaliseDomainPattern(const QString &text, const QString &where)
{
    QString d = text.trimmed().toLower();
    if (d.endsWith(QLatin1Char('.')))
        d.chop(1);
    static const QRegularExpression label(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")));
    const bool wildcard = d.startsWith(QLatin1String("*."));
    const QString base = wildcard ? d.mid(2) : d;
    if (base.isEmpty() || base.size() > kMaxDomainLength)
        return policyError(where, QStringLiteral("'%1' is not a domain (example.com or *.example.com)").arg(text));
    for (const QString &l : base.split(QLatin1Char('.')))
        if (!label.match(l).hasMatch())
            return policyError(where,
                               QStringLiteral("'%1' is not a domain: labels are letters, digits and '-' (internationalised names in their xn-- form); "
                                              "'*' only as a whole first label (*.example.com)")
                                   .arg(text));
    return d;
}

bool PolicyRule::matchesDomain(const QString &name) const
{
    if (!hasDomain())
        return false;
    QString n = name.toLower();
    if (n.endsWith(QLatin1Char('.')))
        n.chop(1);
    const QString base = domainBase();
    const bool below = n.size() > base.size() && n.endsWith(base) && n.at(n.size() - base.size() - 1) == QLatin1Char('.');
    return below || (!isWildcard() && n == base);
}

QJsonObject PolicyRule::toJson() const
{
    QJsonObject o;
    if (hasDomain())
        o.insert(QStringLiteral("domain"), domain);
    if (hasCidr())
        o.insert(QStringLiteral("cidr"), cidr.toString());
    if (!ports.isEmpty()) {
        QJsonArray a;
        for (const PortRange &p : ports)
            a.append(p.toString());
        o.insert(QStringLiteral("ports"), a);
    }
    return o;
}

Core::Expected<NetworkPolicy> NetworkPolicy::fromJson(const QJsonObject &json, const QString &where)
{
    for (auto it = json.begin(); it != json.end(); ++it)
        if (it.key() != QLatin1String("default") && it.key() != QLatin1String("allow") && it.key() != QLatin1String("deny"))
            return policyError(QStringLiteral("%1.%2").arg(where, it.key()), QStringLiteral("unknown field (default, allow, deny)"));
    NetworkPolicy p;
    const QJsonValue def = json.value(QLatin1String("default"));
    if (def.isUndefined())
        return policyError(where + QStringLiteral(".default"), QStringLiteral("is required: \"deny\" or \"allow\""));
    if (def != QJsonValue(QStringLiteral("deny")) && def != QJsonValue(QStringLiteral("allow")))
        return policyError(where + QStringLiteral(".default"), QStringLiteral("must be \"deny\" or \"allow\""));
    p.defaultAction = def.toString() == QLatin1String("allow") ? Default::Allow : Default::Deny;
    auto allow = parseRules(json.value(QLatin1String("allow")), where + QStringLiteral(".allow"));
    if (!allow)
        return allow.error();
    auto deny = parseRules(json.value(QLatin1String("deny")), where + QStringLiteral(".deny"));
    if (!deny)
        return deny.error();
    for (int i = 0; i < deny->size(); ++i)
        if (deny->at(i).hasDomain() && !deny->at(i).ports.isEmpty())
            return policyError(QStringLiteral("%1.deny[%2].ports").arg(where).arg(i),
                               QStringLiteral("a denied domain is not resolved at all, so ports do not apply to it"));
    p.allow = *allow;
    p.deny = *deny;
    return p;
}

QJsonObject NetworkPolicy::toJson() const
{
    QJsonArray a;
    for (const PolicyRule &r : allow)
        a.append(r.toJson());
    QJsonArray d;
    for (const PolicyRule &r : deny)
        d.append(r.toJson());
    return QJsonObject{{QStringLiteral("default"), defaultAction == Default::Allow ? QStringLiteral("allow") : QStringLiteral("deny")},
                       {QStringLiteral("allow"), a},
                       {QStringLiteral("deny"), d}};
}

bool NetworkPolicy::resolves(const QString &name) const
{
    for (const bool wildcard : {false, true}) {
        const PolicyRule *a = bestMatch(allow, name, wildcard);
        const PolicyRule *d = bestMatch(deny, name, wildcard);
        if (d && (!a || d->domain.size() >= a->domain.size()))
            return false;
        if (a)
            return true;
    }
    return defaultAction == Default::Allow;
}

const QList<Cidr> &NetworkPolicy::alwaysDenied()
{
    static const QList<Cidr> ranges = [] {
        QList<Cidr> out;
        for (const char *c : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",
                              "240.0.0.0/4", "::/128", "::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"})
            out << *Cidr::parse(QLatin1String(c));
        return out;
    }();
    return ranges;
}

QList<PolicyRule> NetworkPolicy::namedReservedAllows(const QList<Cidr> &extraDenied) const
{
    const QList<Cidr> ranges = alwaysDenied() + extraDenied;
    QList<PolicyRule> out;
    for (const PolicyRule &r : allow)
        if (r.hasCidr() && std::any_of(ranges.begin(), ranges.end(), [&](const Cidr &c) { return c.contains(r.cidr); }))
            out << r;
    return out;
}

} // namespace Net
