#pragma once

#include "core/expected.h"
#include "core/net/filelock.h"
#include "core/net/leftovers.h"
#include "core/net/networkbackend.h"
#include "core/net/networkpolicy.h"
#include "core/net/nftables.h"
#include "core/net/nftruleset.h"
#include "core/net/resolver.h"
#include "core/net/subnetplan.h"
#include "core/net/tapdevice.h"

#include <QSet>
#include <QString>
#include <QStringList>

#include <map>
#include <memory>
#include <optional>

namespace Net {

struct HostNetworkOptions {
    // Names everything of this instance: table mvs_<id>, taps
    // mvs<4 hex of id>v<slot>, resolvers mvs_<id>_v<slot>.conf. [a-z0-9]{1,16}.
    QString instanceId;
    // The resolvers' configurations, pid files and logs (made 0700).
    QString runtimeDir;
    // The VM subnet: the first candidate that no host route overlaps and no
    // other instance claimed (empty: SubnetPlan::defaultCandidates()).
    QStringList subnetCandidates;
    // The resolvers' upstreams ("10.0.0.53", "127.0.0.1#5353"); empty: the
    // nameservers of /etc/resolv.conf.
    QStringList upstreams;
    // The locks every instance on this host shares (see Leftovers).
    QString lockDir = QStringLiteral("/run/microvm-sandbox/net");
    // Inside RootlessNetwork's namespace: the outer host's own addresses
    // (NftRuleset::create), treated as the host itself.
    QList<Cidr> outerHostAddresses;
    // Inside RootlessNetwork's user namespace (DnsmasqConfig::inUserNamespace).
    bool inUserNamespace = false;
};

// The host side of VM networking for a service running as root (issue 15):
// one per service instance. Each public call is a flat sequence of named
// steps, synchronous: it blocks the calling thread while it runs `nft`, `ip`
// or starts/stops a dnsmasq (a few ms each; a resolver start waits until it
// listens, typically 10-50 ms, at most Resolver::kStartTimeoutMs). Not
// thread-safe: call from one thread.
//
//   start()    lock the instance (Leftovers' locks) and its tap prefix;
//              remove what dead instances left (tables, resolvers, taps;
//              this instance's own earlier life included: a VM whose VMM
//              outlived it keeps its tap, down and without an address, until
//              adopt()); claim the subnet; turn on IPv4 forwarding
//              (host-wide); create the table.
//   attach()   tap, gateway address and link up, the VM's nft chains and
//              sets, its resolver.
//   adopt()    the same for a VM whose VMM (holding its tap) outlived an
//              earlier life of this instance: its tap is configured again.
//   setPolicy() the VM's rules replaced atomically (new connections see
//              them at once; established ones go on), its resolver restarted
//              with the new names (its DNS sets start empty).
//   detach()   the VM's resolver, nft objects and tap address go (the tap
//              itself goes with the VMM's descriptor).
//   stop()     every resolver, tap address and the table go; locks released.
//              Also run by the destructor.
//   release()  instead of stop(), for a service that leaves its VMs running
//              (persistent VMMs): everything stays in place and filtering;
//              the locks go, so the next life's start() and adopt() take over.
class HostNetwork : public NetworkBackend {
public:
    static constexpr int kLockWaitMs = 3000;
    static constexpr int kTapPrefixHexDigits = 4;

    explicit HostNetwork(HostNetworkOptions options);
    HostNetwork(const HostNetwork &) = delete;
    HostNetwork &operator=(const HostNetwork &) = delete;
    ~HostNetwork() override;

    // AlreadyExists when the instance (or its tap prefix) runs elsewhere.
    Core::Expected<LeftoverReport> start();
    // slot: the VM's place in the subnet (SubnetPlan::freeSlot over the
    // slots the caller's records hold). mac: the VM's (its record's); empty:
    // macForVm(vmId) unless another attached VM has it. AlreadyExists when
    // the slot or the MAC is another attached VM's. privateNetwork: the
    // VM's group in mode private (it reaches the group's other VMs and they
    // reach it; see NftRuleset), empty in mode egress.
    Core::Expected<VmAttachment> attach(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                        const QString &privateNetwork = {}) override;
    // A VM left running by an earlier life of this instance (same instance
    // id, same subnet: the VM's recorded address must be plan().address(slot)),
    // whose VMM still holds tap tapName(slot): NotFound when the tap is gone.
    // The returned attachment has no tap descriptor.
    Core::Expected<VmAttachment> adopt(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                       const QString &privateNetwork = {}) override;
    Core::Result setPolicy(int slot, const NetworkPolicy &policy) override;
    // Every step is tried; the first failure is returned. Unknown slot: NotFound.
    Core::Result detach(int slot) override;
    Core::Result stop() override;
    void release() override;
    bool outlivesService() const override { return true; }
    // Adds outer host addresses (the host's new addresses, inside
    // RootlessNetwork's namespace); kept for its life.
    Core::Result addOuterHostAddresses(const QList<Cidr> &networks);

    bool isStarted() const { return m_ruleset.has_value(); }
    QString instanceId() const { return m_options.instanceId; }
    QString table() const; // "mvs_<instance>"
    const SubnetPlan &plan() const { return m_plan; } // valid once started
    QStringList upstreams() const { return m_upstreams; }
    QString tapName(int slot) const override; // "mvs<hex>v<slot>"
    QSet<int> slots() const;
    std::optional<NetworkPolicy> policy(int slot) const;
    Core::Expected<VmCounters> counters(int slot) const override;
    Core::Expected<QList<Denial>> denials(int slot) const override;
    // Bounds the resolvers' logs (Resolver::rotateLog); run it now and then.
    void rotateLogs();

    // "mvs" + the first kTapPrefixHexDigits hex digits of sha256(instanceId).
    static QString tapPrefix(const QString &instanceId);
    static QString subnetLockPath(const QString &lockDir, const Cidr &subnet);

private:
    struct Vm {
        QString vmId;
        QString tap;
        VmAddress address;
        QString mac;
        NetworkPolicy policy;
        QString privateNetwork;
        std::unique_ptr<Resolver> resolver;
    };

    Core::Result checkOptions() const;
    Core::Result lockInstance();
    Core::Result removeLeftovers(LeftoverReport &report);
    Core::Result claimSubnet();
    Core::Result resolveUpstreams();
    Core::Result createTable();
    Core::Result checkNewSlot(int slot) const;
    Core::Expected<Vm> newVm(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac, const QString &privateNetwork) const;
    Core::Expected<VmAttachment> configureVm(Vm vm, TapDevice tap);
    Core::Result applyVmRules(const Vm &vm, int previousDnsGroups);
    Core::Result startResolver(Vm &vm);
    Core::Result removeVm(Vm &vm);
    VmFilter filter(const Vm &vm) const;
    QSet<QString> macs() const;
    const Vm *find(int slot) const;

    HostNetworkOptions m_options;
    FileLock m_instanceLock;
    FileLock m_tapLock;
    FileLock m_subnetLock;
    SubnetPlan m_plan;
    QStringList m_upstreams;
    std::optional<NftRuleset> m_ruleset;
    std::map<int, Vm> m_vms;
};

} // namespace Net
