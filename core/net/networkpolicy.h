#pragma once

#include "core/expected.h"
#include "core/net/cidr.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace Net {

enum class Transport { Any, Tcp, Udp };

// "443", "8000-8100", "53/udp", "1000-2000/tcp" (no protocol: TCP and UDP).
struct PortRange {
    Transport protocol = Transport::Any;
    quint16 first = 0;
    quint16 last = 0;

    static Core::Expected<PortRange> parse(const QString &text);
    QString toString() const;
    bool operator==(const PortRange &o) const { return protocol == o.protocol && first == o.first && last == o.last; }
};

// One allow or deny rule: a destination (a domain pattern, a network, or
// neither: anywhere) and optionally ports (none: every port and protocol).
// A rule names a domain or a network, never both.
struct PolicyRule {
    QString domain; // "example.com" or "*.example.com", lowercase, no trailing dot
    Cidr cidr; // invalid when the rule has none
    QList<PortRange> ports;

    bool hasDomain() const { return !domain.isEmpty(); }
    bool hasCidr() const { return cidr.isValid(); }
    bool isWildcard() const { return domain.startsWith(QLatin1String("*.")); }
    // The pattern without "*." ("example.com").
    QString domainBase() const { return isWildcard() ? domain.mid(2) : domain; }
    // Whether this rule's domain pattern matches name (see NetworkPolicy).
    bool matchesDomain(const QString &name) const;
    QJsonObject toJson() const;
    bool operator==(const PolicyRule &o) const { return domain == o.domain && cidr == o.cidr && ports == o.ports; }
};

// A VM's egress policy (issue 15). Semantics, shared by every backend:
//
// Addresses. A connection to address A, port P is decided in this order:
//  1. a deny rule matching A (its network, or any address) and P denies it
//     (a denied domain works through DNS only: it is not resolved at all,
//     so it takes no ports);
//  2. A in an always-denied range (alwaysDenied(), the VM subnet, the host
//     itself) is denied unless an allow rule *names* it: the rule's network
//     lies wholly inside that always-denied range (10.1.2.3/32, 192.168.0.0/16,
//     169.254.169.254/32), with the rule's ports. A wider network that merely
//     overlaps one (0.0.0.0/0, 8.0.0.0/5) opens only its public part, and a
//     domain never opens one (an allowed name resolving to 10.0.0.5 is still
//     refused: no DNS rebinding into the host's networks). The host is
//     reached only at an address an allow rule names as a single address
//     (/32, /128) - except the VM's resolver, port 53 on its gateway.
//  3. an allow rule matching A and P allows it (a domain rule matches the
//     addresses the VM's resolver answered for its names);
//  4. otherwise the default.
//
// Names (the VM's resolver). A name is matched against the domain patterns of
// both lists as dnsmasq does, which enforces it: "example.com" matches
// example.com and every name below it (whole labels: never
// superexample.com); "*.example.com" matches only names below it. Label
// patterns outrank wildcard ones, then the longest pattern wins, and on a
// tie deny wins. A name whose best match is a deny rule, or with no match
// under default deny, answers NXDOMAIN.
struct NetworkPolicy {
    enum class Default { Deny, Allow };
    Default defaultAction = Default::Deny;
    QList<PolicyRule> allow;
    QList<PolicyRule> deny;

    // The REST body of PUT .../network/policy, or a template's network.policy
    // converted to JSON. where prefixes the field named in errors ("policy").
    static Core::Expected<NetworkPolicy> fromJson(const QJsonObject &json, const QString &where = QStringLiteral("policy"));
    QJsonObject toJson() const;

    // Whether the VM's resolver answers name (true) or NXDOMAIN (false).
    bool resolves(const QString &name) const;
    // The always-denied ranges that do not depend on the host: loopback,
    // "this network", link-local (169.254/16 incl. 169.254.169.254, fe80::/10),
    // RFC 1918, CGNAT 100.64/10, ULA fc00::/7, multicast, 240/4 with
    // broadcast, site-local fec0::/10, IPv4-mapped ::ffff:0:0/96, :: and ::1.
    static const QList<Cidr> &alwaysDenied();
    // Allow rules that name an always-denied range (or one of extraDenied,
    // e.g. the VM subnet): their network lies wholly inside one.
    QList<PolicyRule> namedReservedAllows(const QList<Cidr> &extraDenied = {}) const;

    bool operator==(const NetworkPolicy &o) const { return defaultAction == o.defaultAction && allow == o.allow && deny == o.deny; }
};

// A domain pattern as a policy takes it, normalised (lowercase, no trailing
// dot), or an error naming where.
Core::Expected<QString> normaliseDomainPattern(const QString &text, const QString &where);

} // namespace Net
