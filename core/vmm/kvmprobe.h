#pragma once

#include <QString>

namespace Vmm {

struct KvmStatus {
    bool usable = false;
    QString reason; // why not, for a person ("/dev/kvm does not exist", ...)
};

// Whether KVM can actually run guest code here. Opening /dev/kvm is not
// enough: nested setups exist where KVM_CREATE_VM succeeds but a vCPU never
// runs. So a forked child creates a VM with one page holding `hlt`, runs it,
// and must see KVM_EXIT_HLT within kProbeTimeoutMs. Probed once per process.
KvmStatus kvmStatus();
bool kvmUsable();

inline constexpr int kKvmProbeTimeoutMs = 2000;

} // namespace Vmm
