#pragma once

#include "core/vmm/vmmdriver.h"

namespace Vmm {

// cloud-hypervisor: KVM only, driven over its REST API (ChInstance).
class ChDriver final : public VmmDriver {
public:
    static constexpr char kDefaultBinary[] = "cloud-hypervisor";

    // `binary`: a path, or a name looked up on PATH; empty: kDefaultBinary.
    explicit ChDriver(QString binary = {});

    DriverKind kind() const override { return DriverKind::CloudHypervisor; }
    QString name() const override { return QStringLiteral("cloud-hypervisor"); }
    // BinaryMissing without the binary, KvmUnavailable without a /dev/kvm the
    // VMM's user may use, PermissionDenied for a root service without its VMM user.
    Core::Result checkAvailable() const override;
    std::unique_ptr<VmmInstance> createInstance(const VmSpec &spec) const override;

    // The resolved binary path; empty when not found.
    QString binary() const;

private:
    QString m_binary;
};

} // namespace Vmm
