#pragma once

#include "core/expected.h"
#include "core/net/cidr.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QSet>
#include <QString>

namespace Net {

// The host's routes, from /proc/net/route and /proc/net/ipv6_route (or text
// a test gives).
struct HostRoutes {
    QList<Cidr> routes;
    static HostRoutes parse(const QByteArray &ipv4RouteText, const QByteArray &ipv6RouteText);
    static HostRoutes read(); // this machine's
};

// One VM's addresses: its own point-to-point block of kBlockSize addresses
// in the subnet. Slot n owns block n: the gateway (the host's side of the
// VM's tap, where its resolver listens) is the block's first host address,
// the VM the next.
struct VmAddress {
    int slot = -1;
    QHostAddress gateway;
    QHostAddress address;
    int prefix = 30;
    Cidr block;
};

// The VM subnet: chosen from the configured candidates, skipping (or, for a
// subnet the configuration names alone, refusing) any that overlaps a route
// of the host or an address it must keep reaching (its resolvers). Routes
// shorter than kMinRoutePrefix (default routes, a VPN's 0/1 + 128/1) are not
// counted: the VMs' more specific routes win over them.
class SubnetPlan {
public:
    static constexpr int kBlockSize = 4; // a /30 per VM
    static constexpr int kVmPrefix = 30;
    static constexpr int kMinRoutePrefix = 8;
    static constexpr int kMinSubnetPrefix = 8;
    static constexpr int kMaxSubnetPrefix = 24;
    static const QStringList &defaultCandidates();

    // candidates: as configured (one: that one or an error); empty: the defaults.
    static Core::Expected<SubnetPlan> choose(const QStringList &candidates, const HostRoutes &routes, const QList<QHostAddress> &avoid = {});

    const Cidr &subnet() const { return m_subnet; }
    int slotCount() const { return int(m_subnet.ipv4Size() / kBlockSize); }
    Core::Expected<VmAddress> address(int slot) const;
    // The lowest slot not in taken.
    Core::Expected<int> freeSlot(const QSet<int> &taken) const;

private:
    Cidr m_subnet;
};

// A locally administered unicast MAC for a VM ("0a:1b:..."), derived from its
// id: the same id gives the same MAC, and one in taken moves on to the next
// derivation (id#1, id#2, ...), so a fork or a restore under a new id gets its own.
QString macForVm(const QString &vmId, const QSet<QString> &taken = {});

} // namespace Net
