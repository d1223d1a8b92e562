#pragma once
// A running VM's memory changed while it runs, through its balloon
// (Vmm::VmmInstance::setMemory). A guest without the balloon driver is
// refused before anything. Growing goes back up to what the VM booted
// with. Shrinking first asks the guest's agent what it uses, and refuses
// a target that would leave it less than kHeadroomMiB free: a balloon
// inflated past that makes the guest's kernel kill its processes.

#include "core/async.h"

namespace Agent {
struct Health;
}

namespace Vm {

class VirtualMachine;

namespace LiveMemory {

inline constexpr qint64 kMinMiB = 64;
// What a shrunk guest keeps available above what it used when asked.
inline constexpr qint64 kHeadroomMiB = 32;
// Asking the guest whether its balloon driver is there.
inline constexpr int kDriverCheckTimeoutMs = 10000;

// Pure: whether the guest (its memory now, what its agent reported) may go
// to targetMiB; bootMiB is the most it may have. InvalidArgument naming the
// range otherwise.
Core::Result check(qint64 targetMiB, qint64 bootMiB, qint64 nowMiB, const Agent::Health *health);

// Check (that the guest has its balloon driver, and when the VM shrinks
// what it can spare: both asked of its agent), then move the balloon. A
// guest without the driver is Unsupported at once.
// Resolves with the guest's memory in MiB once the VMM reports it there.
Core::Future<qint64> resize(VirtualMachine *vm, qint64 targetMiB);

} // namespace LiveMemory

} // namespace Vm
