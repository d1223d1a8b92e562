#pragma once
// What the host tells a guest about its network: the spec of
// protocol/netspec.h, built from a VM's address and MAC, for the kernel
// command line at boot and for the agent after a restore or fork. Pure.

#include "core/expected.h"
#include "core/net/subnetplan.h"

#include <QString>
#include <QStringList>

namespace Net::GuestNet {

// The guest agent as the host runs it by exec (on the guest's PATH).
inline constexpr char kAgentCommand[] = "microvm-agent";

// "10.213.0.2/30,10.213.0.1,0a:1b:2c:3d:4e:5f". InvalidArgument for an
// address that is not IPv4, a gateway outside the VM's network or equal to
// its address, or a MAC that is not a unicast one (six hex bytes).
Core::Expected<QString> spec(const VmAddress &address, const QString &mac);

// "mvs.net=<spec>", to append to VmSpec::kernelCmdline: the guest's
// --init-setup configures its NIC from it at boot.
Core::Expected<QString> kernelArgument(const VmAddress &address, const QString &mac);

// {"microvm-agent", "--configure-net", "<spec>"}: the exec that sets the
// running guest's NIC to the address and MAC (after a restore with a new
// tap, or in a fork): its MAC, addresses, neighbours, default route and
// resolver. Exit code 0 when done; the spec needs no quoting in a shell
// (`sh -c "... && microvm-agent --configure-net <spec>"`).
Core::Expected<QStringList> configureNetCommand(const VmAddress &address, const QString &mac);

} // namespace Net::GuestNet
