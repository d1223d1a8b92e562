#pragma once

#include "core/expected.h"
#include "core/net/networkpolicy.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QString>

namespace Net {

// One VM's resolver: a dnsmasq configuration file (pure text; the caller
// writes it and runs `dnsmasq --keep-in-foreground --conf-file=<file>`).
//
// It listens on the VM's gateway address only (bind-interfaces: the address
// exists on the VM's tap alone, so each VM's dnsmasq binds its own), never on
// loopback. It reads nothing of the host's (no /etc/hosts, no resolv.conf):
// its upstreams are given. No DHCP. Names resolve as the policy says
// (NetworkPolicy::resolves): under default deny every name answers NXDOMAIN
// (address=/#/) but the allowed patterns, which are forwarded; denied
// patterns answer NXDOMAIN. Answers for allowed patterns are added to the
// VM's nftables sets (nftset=, NftRuleset::dnsSetName), which is what lets the
// VM connect to them. Answers in private ranges are passed on (no
// stop-dns-rebind: dnsmasq counts 10/8 and the TEST-NETs, where the test
// internet lives, as private); the VM's nft chain refuses the reserved
// ranges whatever a name resolves to (NetworkPolicy). Queries are logged
// only when logQueries is set, to logFile, which the caller keeps bounded
// (Resolver copies and empties it: dnsmasq appends); logFile has dnsmasq's
// start-up messages and errors otherwise.
struct DnsmasqConfig {
    static constexpr int kCacheSize = 1000;
    static constexpr int kMaxUpstreams = 4;

    QString table; // the instance's nftables table ("mvs_<instance>")
    int slot = -1; // the VM's slot: its sets' names
    QHostAddress listenAddress; // the VM's gateway
    QStringList upstreams; // "10.0.0.53" or "10.0.0.53#5353"
    QString pidFile;
    QString logFile;
    bool logQueries = false;
    // dnsmasq runs as root of a user namespace that maps no other user and
    // denies setgroups (RootlessNetwork): it keeps that root (user=root, and
    // an empty group=, since dropping to its default group calls setgroups
    // and fails). Root of such a namespace is the service's own user outside.
    bool inUserNamespace = false;
    NetworkPolicy policy;

    Core::Expected<QString> text() const;

    // The nameservers of a resolv.conf (the host's resolvers, for upstreams).
    static QStringList nameservers(const QByteArray &resolvConf);
};

} // namespace Net
