#pragma once
// A running VM's vCPUs changed while it runs (Vmm::VmmInstance::setVcpus),
// up to the ceiling it was started with (max_vcpus, VmSpec::maxVcpus), and
// down to 1 where the driver can remove them (cloud-hypervisor; QEMU says
// why it cannot). Added vCPUs arrive offline in the guest (as on real
// hardware without a udev rule), so its agent onlines them; a removed one
// is ejected by the guest's ACPI. Either way the change counts once the
// guest's agent reports that many online: what `nproc` in the guest says.

#include "core/async.h"

namespace Vm {

class VirtualMachine;

namespace LiveCpus {

// The guest's shell command that onlines its offline vCPUs.
inline constexpr int kOnlineTimeoutMs = 10000;
// After the VMM has the count: the guest's agent reports it online.
inline constexpr int kGuestTimeoutMs = 15000;
inline constexpr int kGuestPollIntervalMs = 100;

// Pure: whether a VM with `now` vCPUs, started with room for `ceiling`
// (its boot count, or its max_vcpus when higher), may go to `target`.
// Unsupported when it would grow and has no room (saying how to give it
// some), InvalidArgument outside 1..ceiling.
Core::Result check(const QString &name, int target, int now, int ceiling);

// Check, change the VMM's vCPUs, online added ones in the guest, wait for
// the guest to count them. Resolves with the count.
Core::Future<int> resize(VirtualMachine *vm, int target);

} // namespace LiveCpus

} // namespace Vm
