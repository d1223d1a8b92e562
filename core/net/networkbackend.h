#pragma once

#include "core/expected.h"
#include "core/net/networkpolicy.h"
#include "core/net/nftables.h"
#include "core/net/subnetplan.h"
#include "core/net/tapdevice.h"

#include <QList>
#include <QString>

namespace Net {

// What a VM's VMM gets: the tap's descriptor (pass it to the VMM, then
// close ours), its addresses (guest side: address/prefix, gateway = default
// route and resolver) and its MAC.
struct VmAttachment {
    TapDevice tap;
    VmAddress address;
    QString mac;
};

// Where the VMs' taps, filters and resolvers live (issue 15): in the host's
// own network namespace for a service running as root (HostNetwork), or in
// a user and network namespace of the service's own, reaching the host's
// network through pasta, for one that is not (RootlessNetwork). Both give
// the same VmAttachment and enforce the same NetworkPolicy with the same
// NftRuleset and DnsmasqConfig. Synchronous and for one thread, like
// HostNetwork; slots and arguments as HostNetwork documents them.
class NetworkBackend {
public:
    virtual ~NetworkBackend() = default;

    virtual Core::Expected<VmAttachment> attach(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                                const QString &privateNetwork = {}) = 0;
    // A VM whose VMM outlived an earlier life of the service. The returned
    // attachment has no tap descriptor (VmNetworks takes one from the VMM).
    virtual Core::Expected<VmAttachment> adopt(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                               const QString &privateNetwork = {}) = 0;
    virtual Core::Result setPolicy(int slot, const NetworkPolicy &policy) = 0;
    virtual Core::Result detach(int slot) = 0;
    virtual Core::Expected<VmCounters> counters(int slot) const = 0;
    virtual Core::Expected<QList<Denial>> denials(int slot) const = 0;
    virtual QString tapName(int slot) const = 0;
    // Everything goes (also run by the destructors).
    virtual Core::Result stop() = 0;
    // Instead of stop(): the VMs' networks stay for VMMs that outlive the
    // service, for the next life's adopt().
    virtual void release() = 0;
    // Whether the VMs' networks outlive the service (release(), adopt()).
    virtual bool outlivesService() const = 0;
};

} // namespace Net
