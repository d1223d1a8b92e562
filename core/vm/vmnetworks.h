#pragma once
// The NICs of a VmManager's VMs (issue 15): which VMs are attached to the
// network backend (Net::HostNetwork for a service running as root,
// Net::RootlessNetwork for one that is not), the taps their VMMs get, and
// why a VM with a NIC cannot run when there is no backend (it would not
// start: the reason is kept). Synchronous, like the backends; one thread.
//
// A VM is attached from its first start (or restore, or fork) until its VMM
// is gone (stop, failure, delete): the tap's descriptor is held here for all
// of that time and the VMM gets it at every start or restore. A restore of a
// running VM thus gives its new VMM the same tap, with the same address and
// rules (no "tap busy" while the old VMM lets go of it), and the guest's
// agent is told to refresh its neighbours (the new VMM's queue is a new
// link to it). release() leaves every attached VM's network in place for VMMs
// that outlive the service; adopt() takes one over again in the next life.

#include "core/expected.h"
#include "core/net/hostnetwork.h"
#include "core/net/networkbackend.h"
#include "core/vm/vmrecord.h"
#include "core/vmm/vmspec.h"

#include <QString>

#include <map>
#include <memory>

namespace Vm {

// What one run of a VM gets: the tap's descriptor (open until the VM is
// detached) with the guest's MAC, and its network for the guest
// (Net::GuestNet::spec) for the kernel command line or the agent.
struct VmNic {
    Vmm::NicSpec nic;
    QString guestNetSpec;
};

// A VM's network as it is now.
// Bytes through a VM's NIC, as its guest sees them (received: from the
// host's side of its tap to the guest), from the start of its network.
struct VmTraffic {
    quint64 receivedBytes = 0;
    quint64 sentBytes = 0;
};

struct VmNetworkStatus {
    bool attached = false; // its VMM runs with a NIC; else nothing below is set
    Net::VmAddress address;
    QString tap;
    Net::VmCounters counters;
    QList<Net::Denial> denials;
};

class VmNetworks {
public:
    // Environment of a service: comma-separated lists.
    static constexpr const char *kSubnetsVariable = "MVS_NET_SUBNETS"; // "10.213.0.0/16,..."
    static constexpr const char *kUpstreamsVariable = "MVS_NET_UPSTREAMS"; // "10.0.0.53,127.0.0.1#5353"
    static constexpr int kInstanceIdChars = 12;

    // The host network of a service keeping its VMs in stateDir: its
    // instance is named after the state directory (two services on two
    // state directories never collide, one service finds its earlier
    // life's leftovers), the subnets and upstreams come from the
    // environment (unset: HostNetwork's defaults).
    static Net::HostNetworkOptions serviceOptions(const QString &stateDir);
    // As root: a started HostNetwork. Otherwise a started RootlessNetwork
    // whose helper is helperCommand (empty: this program's `net-helper`).
    // When neither starts, VmNetworks without one, which refuses every VM
    // with a NIC and says why.
    static std::unique_ptr<VmNetworks> start(Net::HostNetworkOptions options, QStringList helperCommand = {});

    explicit VmNetworks(std::unique_ptr<Net::NetworkBackend> backend);
    explicit VmNetworks(Core::Error unavailable);
    VmNetworks(const VmNetworks &) = delete;
    VmNetworks &operator=(const VmNetworks &) = delete;
    ~VmNetworks(); // the host network stops (unless released)

    bool hasHostNetwork() const { return m_backend != nullptr; } // a backend, root's or not
    Net::NetworkBackend *backend() const { return m_backend.get(); }
    // The backend when it is a root service's HostNetwork, else null.
    Net::HostNetwork *hostNetwork() const { return dynamic_cast<Net::HostNetwork *>(m_backend.get()); }

    // Whether a VM of this record can run: no NIC, or a host network that
    // gives it one and enforces its policy (Unsupported, saying why not).
    Core::Result available(const VmRecord &record) const;
    // The VM's NIC for its next VMM: attached now, or kept from its last
    // run when it still is (a restore of a running VM). No NIC: nullopt.
    Core::Expected<std::optional<VmNic>> attach(const VmRecord &record);
    // A VM whose VMM outlived the earlier life of this service (holding its
    // tap): its address, rules and resolver again. No NIC: nothing to do.
    // A backend whose networks die with their service (RootlessNetwork):
    // the VM is adopted without a network (it reaches nothing) until it
    // starts again.
    Core::Result adopt(const VmRecord &record);
    // Its VMM is gone: resolver, rules, address and our descriptor go.
    void detach(const QString &name);
    bool isAttached(const QString &name) const { return m_attached.count(name) != 0; }
    // A new policy for an attached VM, applied to its next connections.
    // Not attached: nothing to do (its next start applies the record's).
    Core::Result setPolicy(const QString &name, const Net::NetworkPolicy &policy);
    Core::Expected<VmNetworkStatus> status(const QString &name) const;
    // Its tap's byte counters (/sys/class/net/<tap>/statistics) while it is
    // attached to a backend whose taps are in this network namespace (a
    // root service's); nullopt otherwise. Cheap: two small reads, no nft.
    std::optional<VmTraffic> traffic(const QString &name) const;
    // Every attached VM's counters (for /metrics), by VM name.
    std::map<QString, Net::VmCounters> counters() const;
    // Leave every attached VM's network in place (their VMMs run on) and
    // forget them: the next life adopts them.
    void release();

private:
    struct Attached {
        int slot = -1;
        Net::TapDevice tap; // invalid when adopted and the VMM's could not be copied
        Net::VmAddress address;
        QString mac;
    };

    Core::Expected<VmNic> nicOf(const Attached &a) const;

    std::unique_ptr<Net::NetworkBackend> m_backend;
    Core::Error m_unavailable;
    std::map<QString, Attached> m_attached;
};

} // namespace Vm
