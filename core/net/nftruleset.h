#pragma once

#include "core/expected.h"
#include "core/net/cidr.h"
#include "core/net/networkpolicy.h"

#include <QHostAddress>
#include <QList>
#include <QString>

#include <optional>

namespace Net {

// One VM's place in the ruleset.
struct VmFilter {
    int slot = -1; // names its chains, sets and counters: v<slot>_...
    QString tap; // the host side of its NIC (iifname)
    QHostAddress address; // its IPv4 address (the only source it may use)
    QHostAddress gateway; // the tap's address: its resolver listens here
    QHostAddress address6; // its IPv6 address, or null: then no IPv6 at all
    NetworkPolicy policy;
    // Its private network (Templates::NetworkSpec::privateNetwork, mode
    // private), or empty (mode egress): [a-z0-9][a-z0-9._-]{0,62}.
    QString privateNetwork;
};

// The nftables scripts (text for `nft -f`) of one service instance. Pure:
// nothing here touches the kernel.
//
// Layout. One table, `inet mvs_<instance>`, so two services on one host never
// share anything. Base chains: forward (filter), input (filter), postrouting
// (NAT masquerade of the VM subnet). Per VM: chains v<slot>_fwd, v<slot>_in
// and v<slot>_deny, entered through the verdict maps fwd_vmap and in_vmap
// keyed by the VM's tap, so adding or deleting a VM never touches a shared
// rule (no rule handles). Shared sets: taps, sources_4/sources_6 (tap .
// address: the only source each tap may use), reserved_4/reserved_6 (the
// always-denied ranges and the VM subnet).
//
// Per VM: the sets v<slot>_d<g>_4 / _6 hold the addresses the VM's resolver
// answered for allowed names (dnsmasq --nftset), one pair per distinct port
// list g of the allow domain rules (dnsGroups()); CIDR rules are inline.
// Named counters v<slot>_allowed and v<slot>_denied count new connections
// (and each retried packet of a denied one): established traffic is accepted
// before the VM's chain. Denials are recorded in v<slot>_denied_4 / _6 (type
// address . protocol . port, flags dynamic,timeout): every denied TCP/UDP
// attempt updates its element, so `nft -j list set inet mvs_<i> v<slot>_denied_4`
// gives the distinct destinations denied in the last kDeniedTimeoutS, the
// most recent with the largest "expires". No log daemon (NFLOG) is needed,
// only the same rights that apply the rules. Other protocols are counted only.
//
// Private networks: the VMs of one group (VmFilter::privateNetwork) are the
// elements of the shared set g_<group>_4 / _6 (tap . address; the group name
// escaped by groupSetName()). A member's v<slot>_fwd accepts, right after its
// deny rules, every new connection (any protocol and port) whose output tap
// and destination are another member's; it counts as allowed. Everyone else's
// address stays in reserved_4 (the VM subnet) and so denied both ways: a VM
// of another group or in mode egress neither reaches the group nor is reached
// by it. A group's set stays (empty) when its last member goes; the table's
// deletion removes it.
//
// Order in v<slot>_fwd: deny rules; the private network; allow rules that name an always-denied
// range (NetworkPolicy); the always-denied ranges; allow rules; the default.
// v<slot>_in (to the host itself): DNS to the VM's gateway, allow rules that
// name a single address, else denied: the host's services stay unreachable.
class NftRuleset {
public:
    static constexpr int kDeniedSetSize = 1024;
    // The addresses a VM's resolver may add to one of its DNS sets: a guest
    // resolving endless names under an allowed wildcard (whose zone it
    // controls) costs the host at most this many elements per set; past it
    // the kernel refuses the add, and the new address stays denied.
    static constexpr int kDnsSetSize = 16384;
    static constexpr int kDeniedTimeoutS = 15 * 60;
    static constexpr int kMaxSlot = 1 << 20;
    static constexpr int kDnsPort = 53;

    // outerHostAddresses: for a ruleset inside a network namespace that
    // reaches the host's network through a user-mode relay (RootlessNetwork),
    // the outer host's own addresses. There they are remote addresses the
    // relay would connect to, not the namespace's own (which the input chain
    // guards), so they get the host's treatment: the set host_4 / host_6, and
    // a VM's connection to one of them goes through its v<slot>_in rules
    // (DNS to its gateway, allow rules naming a single address, else denied)
    // right after its deny rules, before any allow rule naming a wider range
    // could let it through. nullopt: no such set or rule (a root host).
    static Core::Expected<NftRuleset> create(const QString &instanceId, const Cidr &vmSubnet,
                                             const std::optional<QList<Cidr>> &outerHostAddresses = std::nullopt);

    QString table() const { return m_table; } // "mvs_<instance>"
    // Creates the table (idempotent: existing VMs' elements are kept).
    QString tableScript() const;
    // Adds or replaces one VM's chains and sets (atomically, in one batch).
    // previousDnsGroups: dnsGroups(old policy).size() when replacing, so the
    // sets it no longer uses are deleted.
    Core::Expected<QString> vmScript(const VmFilter &vm, int previousDnsGroups = 0) const;
    // Deletes exactly what vmScript(vm) added (vm.policy: the policy last
    // applied), also when some of it is gone. Needs the table: without it,
    // an empty table is left, which tableDeleteScript() removes.
    Core::Expected<QString> vmDeleteScript(const VmFilter &vm) const;
    // Deletes the whole table (idempotent).
    QString tableDeleteScript() const;
    // Adds outer host addresses to an existing table (addresses the host
    // gained since): treated as the host's from the next packet on.
    QString outerHostAddScript(const QList<Cidr> &networks) const;

    // The distinct port lists of the allow domain rules, first seen first
    // (an empty list: every port).
    static QList<QList<PortRange>> dnsGroups(const NetworkPolicy &policy);
    static QString dnsSetName(int slot, int group, bool v6);
    static QString deniedSetName(int slot, bool v6);
    static QString counterName(int slot, bool allowed);
    // "g_<group>_4": the group's letters and digits kept, '_' -> "__",
    // '.' -> "_d", '-' -> "_h" (one-to-one; nft identifiers have no '-').
    static QString groupSetName(const QString &group, bool v6);

private:
    Core::Result checkVm(const VmFilter &vm) const;
    QString vmObjects(const VmFilter &vm, int dnsGroupCount) const;
    QStringList fwdRules(const VmFilter &vm) const;
    QStringList inRules(const VmFilter &vm) const;
    QStringList denyRules(const VmFilter &vm) const;
    QStringList privateNetworkRules(const VmFilter &vm) const;
    static QList<QStringList> groupElements(const VmFilter &vm);
    QString tableBlock(const QString &body) const;
    QString outerHostSets() const;

    QString m_table;
    Cidr m_subnet;
    std::optional<QList<Cidr>> m_outerHost;
};

} // namespace Net
