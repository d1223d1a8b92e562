#include "core/net/nftruleset.h"

#include <QRegularExpression>

#include <algorithm>

namespace Net {
namespace {

constexpr int kMaxTapNameLength = 15; // IFNAMSIZ - 1

// Templates::NetworkSpec's alphabet of private network names.
const QRegularExpression &groupPattern()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9._-]{0,62}")));
    return re;
}

QString braces(const QStringList &items)
{
    return items.size() == 1 ? items.first() : QStringLiteral("{ %1 }").arg(items.join(QStringLiteral(", ")));
}

// The ranges of one protocol, sorted and merged (nft refuses overlapping
// intervals in one set).
QStringList mergedRanges(QList<PortRange> ranges)
{
    std::sort(ranges.begin(), ranges.end(), [](const PortRange &a, const PortRange &b) { return a.first < b.first; });
    QList<PortRange> merged;
    for (const PortRange &r : ranges) {
        if (!merged.isEmpty() && int(r.first) <= int(merged.last().last) + 1)
            merged.last().last = qMax(merged.last().last, r.last);
        else
            merged << r;
    }
    QStringList out;
    for (const PortRange &r : merged)
        out << (r.first == r.last ? QString::number(r.first) : QStringLiteral("%1-%2").arg(r.first).arg(r.last));
    return out;
}

// The port matches of a rule, one per protocol; {""} for every port.
QStringList portMatches(const QList<PortRange> &ports)
{
    if (ports.isEmpty())
        return {QString()};
    QList<PortRange> tcp;
    QList<PortRange> udp;
    for (const PortRange &p : ports) {
        if (p.protocol != Transport::Udp)
            tcp << p;
        if (p.protocol != Transport::Tcp)
            udp << p;
    }
    QStringList out;
    if (!tcp.isEmpty())
        out << QStringLiteral("tcp dport %1").arg(braces(mergedRanges(tcp)));
    if (!udp.isEmpty())
        out << QStringLiteral("udp dport %1").arg(braces(mergedRanges(udp)));
    return out;
}

QString cidrMatch(const Cidr &c)
{
    return QStringLiteral("%1 daddr %2").arg(c.isV6() ? QStringLiteral("ip6") : QStringLiteral("ip"), c.toString(true));
}

QString joined(const QStringList &parts)
{
    QStringList nonEmpty;
    for (const QString &p : parts)
        if (!p.isEmpty())
            nonEmpty << p;
    return nonEmpty.join(QLatin1Char(' '));
}

// One line per (destination, port match) of a rule with action.
void addRule(QStringList &out, const QStringList &destinations, const QList<PortRange> &ports, const QString &action)
{
    for (const QString &d : destinations)
        for (const QString &p : portMatches(ports))
            out << joined({d, p, action});
}

QString vmChain(int slot, const char *suffix)
{
    return QStringLiteral("v%1_%2").arg(slot).arg(QLatin1String(suffix));
}

QString chainBlock(const QString &name, const QStringList &rules)
{
    QString s = QStringLiteral("    chain %1 {\n").arg(name);
    for (const QString &r : rules)
        s += QStringLiteral("        %1\n").arg(r);
    return s + QStringLiteral("    }\n");
}

// A DNS set, which the VM's resolver fills: bounded (kDnsSetSize).
QString dnsSetDecl(const QString &name, bool v6)
{
    return QStringLiteral("    set %1 {\n        type %2\n        size %3\n    }\n")
        .arg(name, v6 ? QStringLiteral("ipv6_addr") : QStringLiteral("ipv4_addr"))
        .arg(NftRuleset::kDnsSetSize);
}

QString intervalSet(const QString &name, const QString &type, const QStringList &elements)
{
    return QStringLiteral("    set %1 {\n        type %2\n        flags interval\n        auto-merge\n        elements = { %3 }\n    }\n")
        .arg(name, type, elements.join(QStringLiteral(", ")));
}

} // namespace

Core::Expected<NftRuleset> NftRuleset::create(const QString &instanceId, const Cidr &vmSubnet, const std::optional<QList<Cidr>> &outerHostAddresses)
{
    static const QRegularExpression id(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9]{1,16}")));
    if (!id.match(instanceId).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("instance id '%1' must be 1-16 lowercase letters or digits").arg(instanceId));
    if (!vmSubnet.isValid() || vmSubnet.isV6())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the VM subnet must be an IPv4 network"));
    NftRuleset r;
    r.m_table = QStringLiteral("mvs_") + instanceId;
    r.m_subnet = vmSubnet;
    for (const Cidr &c : outerHostAddresses.value_or(QList<Cidr>()))
        if (!c.isValid())
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("an outer host address is invalid"));
    r.m_outerHost = outerHostAddresses;
    return r;
}

QString NftRuleset::tableBlock(const QString &body) const
{
    return QStringLiteral("table inet %1 {\n%2}\n").arg(m_table, body);
}

QString NftRuleset::tableScript() const
{
    QStringList v4;
    QStringList v6;
    for (const Cidr &c : NetworkPolicy::alwaysDenied())
        (c.isV6() ? v6 : v4) << c.toString();
    v4 << m_subnet.toString(); // other VMs (auto-merge folds it into 10/8 or 172.16/12)
    QString body = intervalSet(QStringLiteral("reserved_4"), QStringLiteral("ipv4_addr"), v4)
        + intervalSet(QStringLiteral("reserved_6"), QStringLiteral("ipv6_addr"), v6) + outerHostSets()
        + QStringLiteral("    set taps {\n        type ifname\n    }\n    set sources_4 {\n        type ifname . ipv4_addr\n    }\n"
                         "    set sources_6 {\n        type ifname . ipv6_addr\n    }\n"
                         "    map fwd_vmap {\n        type ifname : verdict\n    }\n    map in_vmap {\n        type ifname : verdict\n    }\n"
                         "    counter spoofed {\n    }\n    counter inbound_dropped {\n    }\n");
    const QStringList antiSpoof = {QStringLiteral("iifname @taps iifname . ip saddr != @sources_4 counter name spoofed drop"),
                                   QStringLiteral("iifname @taps iifname . ip6 saddr != @sources_6 counter name spoofed drop")};
    body += chainBlock(
        QStringLiteral("forward"),
        QStringList{QStringLiteral("type filter hook forward priority filter; policy accept;"), QStringLiteral("iifname @taps ct state invalid drop")}
            + antiSpoof
            + QStringList{QStringLiteral("iifname @taps ct state established,related accept"),
                          QStringLiteral("oifname @taps ct state established,related accept"), QStringLiteral("iifname vmap @fwd_vmap"),
                          QStringLiteral("iifname @taps drop"), QStringLiteral("oifname @taps counter name inbound_dropped drop")});
    body += chainBlock(QStringLiteral("input"),
                       QStringList{QStringLiteral("type filter hook input priority filter; policy accept;"),
                                   QStringLiteral("iifname @taps icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept")}
                           + antiSpoof
                           + QStringList{QStringLiteral("iifname @taps ct state established,related accept"), QStringLiteral("iifname vmap @in_vmap"),
                                         QStringLiteral("iifname @taps drop")});
    body += chainBlock(QStringLiteral("postrouting"),
                       {QStringLiteral("type nat hook postrouting priority srcnat; policy accept;"),
                        QStringLiteral("ip saddr %1 ip daddr != %1 masquerade").arg(m_subnet.toString())});
    return QStringLiteral("# microvm-sandbox: egress filter of instance %1 (VM subnet %2). Generated.\n").arg(m_table, m_subnet.toString()) + tableBlock(body);
}

QString NftRuleset::tableDeleteScript() const
{
    return QStringLiteral("add table inet %1\ndelete table inet %1\n").arg(m_table);
}

QString NftRuleset::outerHostSets() const
{
    if (!m_outerHost)
        return {};
    QString s;
    for (const bool v6 : {false, true}) {
        const QString name = QStringLiteral("host_%1").arg(v6 ? 6 : 4);
        const QString type = v6 ? QStringLiteral("ipv6_addr") : QStringLiteral("ipv4_addr");
        QStringList elements;
        for (const Cidr &c : *m_outerHost)
            if (c.isV6() == v6)
                elements << c.toString();
        s += elements.isEmpty() ? QStringLiteral("    set %1 {\n        type %2\n        flags interval\n    }\n").arg(name, type)
                                : intervalSet(name, type, elements);
    }
    return s;
}

QString NftRuleset::outerHostAddScript(const QList<Cidr> &networks) const
{
    QString s;
    for (const Cidr &c : networks)
        s += QStringLiteral("add element inet %1 %2 { %3 }\n").arg(m_table, c.isV6() ? QStringLiteral("host_6") : QStringLiteral("host_4"), c.toString());
    return s;
}

QList<QList<PortRange>> NftRuleset::dnsGroups(const NetworkPolicy &policy)
{
    QList<QList<PortRange>> groups;
    for (const PolicyRule &r : policy.allow)
        if (r.hasDomain() && !groups.contains(r.ports))
            groups << r.ports;
    return groups;
}

QString NftRuleset::dnsSetName(int slot, int group, bool v6)
{
    return QStringLiteral("v%1_d%2_%3").arg(slot).arg(group).arg(v6 ? 6 : 4);
}

QString NftRuleset::deniedSetName(int slot, bool v6)
{
    return QStringLiteral("v%1_denied_%2").arg(slot).arg(v6 ? 6 : 4);
}

QString NftRuleset::counterName(int slot, bool allowed)
{
    return QStringLiteral("v%1_%2").arg(slot).arg(allowed ? QStringLiteral("allowed") : QStringLiteral("denied"));
}

QString NftRuleset::groupSetName(const QString &group, bool v6)
{
    QString escaped;
    for (const QChar c : group) {
        if (c == QLatin1Char('_'))
            escaped += QStringLiteral("__");
        else if (c == QLatin1Char('.'))
            escaped += QStringLiteral("_d");
        else if (c == QLatin1Char('-'))
            escaped += QStringLiteral("_h");
        else
            escaped += c;
    }
    return QStringLiteral("g_%1_%2").arg(escaped).arg(v6 ? 6 : 4);
}

Core::Result NftRuleset::checkVm(const VmFilter &vm) const
{
    static const QRegularExpression tap(QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9_.-]{1,%1}").arg(kMaxTapNameLength)));
    if (vm.slot < 0 || vm.slot > kMaxSlot)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("VM slot %1 is out of range").arg(vm.slot));
    if (!tap.match(vm.tap).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("tap name '%1' is not an interface name").arg(vm.tap));
    if (!m_subnet.contains(vm.address) || !m_subnet.contains(vm.gateway))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("VM address %1 / gateway %2 must be in %3").arg(vm.address.toString(), vm.gateway.toString(), m_subnet.toString()));
    if (!vm.address6.isNull() && vm.address6.protocol() != QAbstractSocket::IPv6Protocol)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("'%1' is not an IPv6 address").arg(vm.address6.toString()));
    if (!vm.privateNetwork.isEmpty() && !groupPattern().match(vm.privateNetwork).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("private network '%1' must be lowercase letters, digits, '.', '_' or '-'").arg(vm.privateNetwork.left(64)));
    return {};
}

QStringList NftRuleset::denyRules(const VmFilter &vm) const
{
    return {QStringLiteral("meta nfproto ipv4 meta l4proto { tcp, udp } update @%1 { ip daddr . meta l4proto . th dport }").arg(deniedSetName(vm.slot, false)),
            QStringLiteral("meta nfproto ipv6 meta l4proto { tcp, udp } update @%1 { ip6 daddr . meta l4proto . th dport }").arg(deniedSetName(vm.slot, true)),
            QStringLiteral("counter name %1 drop").arg(counterName(vm.slot, false))};
}

QStringList NftRuleset::privateNetworkRules(const VmFilter &vm) const
{
    if (vm.privateNetwork.isEmpty())
        return {};
    const QString accept = QStringLiteral("counter name %1 accept").arg(counterName(vm.slot, true));
    QStringList out{QStringLiteral("oifname . ip daddr @%1 %2").arg(groupSetName(vm.privateNetwork, false), accept)};
    if (!vm.address6.isNull())
        out << QStringLiteral("oifname . ip6 daddr @%1 %2").arg(groupSetName(vm.privateNetwork, true), accept);
    return out;
}

// (set, element): the VM's membership of its private network.
QList<QStringList> NftRuleset::groupElements(const VmFilter &vm)
{
    if (vm.privateNetwork.isEmpty())
        return {};
    QList<QStringList> out{{groupSetName(vm.privateNetwork, false), QStringLiteral("\"%1\" . %2").arg(vm.tap, vm.address.toString())}};
    if (!vm.address6.isNull())
        out << QStringList{groupSetName(vm.privateNetwork, true), QStringLiteral("\"%1\" . %2").arg(vm.tap, vm.address6.toString())};
    return out;
}

QStringList NftRuleset::fwdRules(const VmFilter &vm) const
{
    const bool v6 = !vm.address6.isNull();
    const QString deny = QStringLiteral("jump %1").arg(vmChain(vm.slot, "deny"));
    const QString accept = QStringLiteral("counter name %1 accept").arg(counterName(vm.slot, true));
    auto destinations = [&](const PolicyRule &r) -> QStringList {
        if (r.hasCidr())
            return r.cidr.isV6() && !v6 ? QStringList() : QStringList{cidrMatch(r.cidr)};
        return {QString()}; // ports only: any destination
    };
    QStringList out;
    for (const PolicyRule &r : vm.policy.deny)
        if (!r.hasDomain()) // a denied name works through DNS only
            addRule(out, destinations(r), r.ports, deny);
    if (m_outerHost) { // the outer host: as the host itself (v<slot>_in)
        out << QStringLiteral("ip daddr @host_4 goto %1").arg(vmChain(vm.slot, "in"));
        if (v6)
            out << QStringLiteral("ip6 daddr @host_6 goto %1").arg(vmChain(vm.slot, "in"));
    }
    out << privateNetworkRules(vm);
    const QList<PolicyRule> named = vm.policy.namedReservedAllows({m_subnet});
    for (const PolicyRule &r : named)
        addRule(out, destinations(r), r.ports, accept);
    out << QStringLiteral("ip daddr @reserved_4 %1").arg(deny);
    if (v6)
        out << QStringLiteral("ip6 daddr @reserved_6 %1").arg(deny);
    const QList<QList<PortRange>> groups = dnsGroups(vm.policy);
    for (int g = 0; g < groups.size(); ++g) {
        QStringList sets{QStringLiteral("ip daddr @%1").arg(dnsSetName(vm.slot, g, false))};
        if (v6)
            sets << QStringLiteral("ip6 daddr @%1").arg(dnsSetName(vm.slot, g, true));
        addRule(out, sets, groups.at(g), accept);
    }
    for (const PolicyRule &r : vm.policy.allow)
        if (!r.hasDomain() && !named.contains(r))
            addRule(out, destinations(r), r.ports, accept);
    out << (vm.policy.defaultAction == NetworkPolicy::Default::Allow ? accept : deny);
    return out;
}

QStringList NftRuleset::inRules(const VmFilter &vm) const
{
    QStringList out;
    for (const char *proto : {"udp", "tcp"})
        out << QStringLiteral("ip daddr %1 %2 dport %3 accept").arg(vm.gateway.toString(), QLatin1String(proto)).arg(kDnsPort);
    const QString accept = QStringLiteral("counter name %1 accept").arg(counterName(vm.slot, true));
    for (const PolicyRule &r : vm.policy.allow)
        if (r.hasCidr() && r.cidr.isSingleAddress() && (!r.cidr.isV6() || !vm.address6.isNull()))
            addRule(out, {cidrMatch(r.cidr)}, r.ports, accept);
    out << QStringLiteral("jump %1").arg(vmChain(vm.slot, "deny"));
    return out;
}

QString NftRuleset::vmObjects(const VmFilter &vm, int dnsGroupCount) const
{
    QString body = QStringLiteral("    counter %1 {\n    }\n    counter %2 {\n    }\n").arg(counterName(vm.slot, true), counterName(vm.slot, false));
    for (int g = 0; g < dnsGroupCount; ++g)
        body += dnsSetDecl(dnsSetName(vm.slot, g, false), false) + dnsSetDecl(dnsSetName(vm.slot, g, true), true);
    for (const bool v6 : {false, true})
        body += QStringLiteral(
                    "    set %1 {\n        type %2 . inet_proto . inet_service\n        size %3\n        flags dynamic,timeout\n        timeout %4s\n    }\n")
                    .arg(deniedSetName(vm.slot, v6), v6 ? QStringLiteral("ipv6_addr") : QStringLiteral("ipv4_addr"))
                    .arg(kDeniedSetSize)
                    .arg(kDeniedTimeoutS);
    if (!vm.privateNetwork.isEmpty())
        for (const bool v6 : {false, true}) // both: a member without IPv6 may share the group with one that has it
            body += QStringLiteral("    set %1 {\n        type ifname . %2\n    }\n")
                        .arg(groupSetName(vm.privateNetwork, v6), v6 ? QStringLiteral("ipv6_addr") : QStringLiteral("ipv4_addr"));
    for (const char *c : {"deny", "fwd", "in"})
        body += QStringLiteral("    chain %1 {\n    }\n").arg(vmChain(vm.slot, c));
    return tableBlock(body);
}

Core::Expected<QString> NftRuleset::vmScript(const VmFilter &vm, int previousDnsGroups) const
{
    if (auto ok = checkVm(vm); !ok)
        return ok.error();
    const int groups = int(dnsGroups(vm.policy).size());
    const NetworkPolicy &p = vm.policy;
    QString s = QStringLiteral("# VM slot %1 on %2 (%3): default %4, %5 allow and %6 deny rules.\n")
                    .arg(vm.slot)
                    .arg(vm.tap, vm.address.toString(), p.defaultAction == NetworkPolicy::Default::Allow ? QStringLiteral("allow") : QStringLiteral("deny"))
                    .arg(p.allow.size())
                    .arg(p.deny.size());
    s += vmObjects(vm, groups);
    for (const char *c : {"fwd", "in", "deny"})
        s += QStringLiteral("flush chain inet %1 %2\n").arg(m_table, vmChain(vm.slot, c));
    // A changed policy starts from no resolved address: names are looked up again.
    for (int g = 0; g < groups; ++g)
        for (const bool v6 : {false, true})
            s += QStringLiteral("flush set inet %1 %2\n").arg(m_table, dnsSetName(vm.slot, g, v6));
    for (int g = groups; g < previousDnsGroups; ++g)
        for (const bool v6 : {false, true})
            s += QStringLiteral("add set inet %1 %2 { type %3; }\ndelete set inet %1 %2\n")
                     .arg(m_table, dnsSetName(vm.slot, g, v6), v6 ? QStringLiteral("ipv6_addr") : QStringLiteral("ipv4_addr"));
    s += tableBlock(chainBlock(vmChain(vm.slot, "deny"), denyRules(vm)) + chainBlock(vmChain(vm.slot, "fwd"), fwdRules(vm))
                    + chainBlock(vmChain(vm.slot, "in"), inRules(vm)));
    s += QStringLiteral("add element inet %1 sources_4 { \"%2\" . %3 }\n").arg(m_table, vm.tap, vm.address.toString());
    if (!vm.address6.isNull())
        s += QStringLiteral("add element inet %1 sources_6 { \"%2\" . %3 }\n").arg(m_table, vm.tap, vm.address6.toString());
    for (const QStringList &e : groupElements(vm))
        s += QStringLiteral("add element inet %1 %2 { %3 }\n").arg(m_table, e.at(0), e.at(1));
    s += QStringLiteral("add element inet %1 taps { \"%2\" }\n").arg(m_table, vm.tap);
    s += QStringLiteral("add element inet %1 fwd_vmap { \"%2\" : jump %3 }\n").arg(m_table, vm.tap, vmChain(vm.slot, "fwd"));
    s += QStringLiteral("add element inet %1 in_vmap { \"%2\" : jump %3 }\n").arg(m_table, vm.tap, vmChain(vm.slot, "in"));
    return s;
}

Core::Expected<QString> NftRuleset::vmDeleteScript(const VmFilter &vm) const
{
    if (auto ok = checkVm(vm); !ok)
        return ok.error();
    // Each object is added first (a no-op when present), so deleting it never
    // fails on what an earlier, interrupted delete already removed.
    QString s = QStringLiteral("# Delete VM slot %1 on %2.\n").arg(vm.slot).arg(vm.tap);
    s += vmObjects(vm, int(dnsGroups(vm.policy).size()));
    // (set, key, data): the element is "set { key data }", deleted by its key.
    const QString tap = QStringLiteral("\"%1\"").arg(vm.tap);
    QList<QStringList> elements = {{QStringLiteral("fwd_vmap"), tap, QStringLiteral(" : jump ") + vmChain(vm.slot, "fwd")},
                                   {QStringLiteral("in_vmap"), tap, QStringLiteral(" : jump ") + vmChain(vm.slot, "in")},
                                   {QStringLiteral("taps"), tap, QString()},
                                   {QStringLiteral("sources_4"), tap + QStringLiteral(" . ") + vm.address.toString(), QString()}};
    if (!vm.address6.isNull())
        elements << QStringList{QStringLiteral("sources_6"), tap + QStringLiteral(" . ") + vm.address6.toString(), QString()};
    for (const QStringList &e : groupElements(vm))
        elements << QStringList{e.at(0), e.at(1), QString()};
    for (const QStringList &e : elements)
        s += QStringLiteral("add element inet %1 %2 { %3%4 }\n").arg(m_table, e.at(0), e.at(1), e.at(2));
    for (const QStringList &e : elements)
        s += QStringLiteral("delete element inet %1 %2 { %3 }\n").arg(m_table, e.at(0), e.at(1));
    for (const char *c : {"fwd", "in", "deny"})
        s += QStringLiteral("flush chain inet %1 %2\n").arg(m_table, vmChain(vm.slot, c));
    for (const char *c : {"fwd", "in", "deny"})
        s += QStringLiteral("delete chain inet %1 %2\n").arg(m_table, vmChain(vm.slot, c));
    for (int g = 0; g < dnsGroups(vm.policy).size(); ++g)
        for (const bool v6 : {false, true})
            s += QStringLiteral("delete set inet %1 %2\n").arg(m_table, dnsSetName(vm.slot, g, v6));
    for (const bool v6 : {false, true})
        s += QStringLiteral("delete set inet %1 %2\n").arg(m_table, deniedSetName(vm.slot, v6));
    for (const bool allowed : {true, false})
        s += QStringLiteral("delete counter inet %1 %2\n").arg(m_table, counterName(vm.slot, allowed));
    return s;
}

} // namespace Net
