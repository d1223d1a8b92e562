#pragma once

#include "core/expected.h"
#include "core/net/subnetplan.h"

#include <QString>
#include <QStringList>

namespace Net {

// The host side of a VM's tap, through Debian's `ip` (iproute2) and /proc/sys:
// the gateway address, the link state, IPv6 off on the tap. Blocking: each
// step runs `ip` once (a few ms).
struct TapLink {
    // Turns IPv4 forwarding on. HOST-WIDE (net.ipv4.ip_forward=1 routes for
    // every interface, not only the taps); it is left on at stop, since
    // other services may rely on it. Our nftables table's forward chain drops
    // everything from and to a tap that its VM's policy does not allow.
    static Core::Result enableForwarding();
    // IPv6 off on the tap (no link-local address, no autoconfiguration: a VM
    // without an IPv6 address gets no IPv6 at all), the gateway/30 on it, link up.
    static Core::Result configure(const QString &tap, const VmAddress &address);
    // Link down and every address flushed (the kernel drops the /30 route):
    // nothing reaches the VM through it any more. Idempotent; a tap that is
    // gone already is success.
    static Core::Result unconfigure(const QString &tap);
    // Also deletes a persistent tap (one we made is not, and goes with its
    // last descriptor; a held non-persistent one cannot be deleted and is
    // only unconfigured).
    static Core::Result remove(const QString &tap);
    // The interfaces whose names start with prefix (/sys/class/net).
    static QStringList interfaces(const QString &prefix);
    static bool exists(const QString &tap);
};

} // namespace Net
