#pragma once
// The guest's NIC, configured in-process with rtnetlink and ioctls (no
// DHCP, no fork of busybox ip: each fork costs tens of ms under TCG).

#include "protocol/messages.h"
#include "protocol/netspec.h"

#include <string>
#include <vector>

namespace GuestAgent::NetConfig {

// Applies `spec` to the guest's Ethernet interface: the one whose MAC is
// spec.mac, else the only one there is. In order: the link goes down
// (the kernel drops its neighbours and routes with it), its IPv4
// addresses are deleted, its MAC becomes spec.mac when it differs (a
// restored virtio-net device comes back with the snapshot's), the address
// is added, the link goes up, the default route goes via the gateway, and
// /etc/resolv.conf names the gateway as the only nameserver (written
// atomically). Returns an empty string on success, otherwise what failed.
std::string apply(const Protocol::NetSpec &spec);

// `microvm-agent --configure-net <spec>`: parses and applies, printing
// what failed to stderr. Exit code: 0 done, 2 a bad spec, 1 a failure.
int configureFromArgument(const std::string &text);

// The interfaces other than lo with their MAC, state and addresses
// (getifaddrs), at most HealthResult's limits.
std::vector<Protocol::InterfaceInfo> interfaces();

} // namespace GuestAgent::NetConfig
