#pragma once

#include "core/expected.h"
#include "core/vmm/vmspec.h"

#include <memory>

namespace Vmm {

class VmmInstance;

enum class DriverKind { Auto, Qemu, CloudHypervisor };

struct DriverOptions {
    DriverKind kind = DriverKind::Auto;
    QString qemuBinary; // empty: "qemu-system-x86_64" on PATH
    QString chBinary; // empty: "cloud-hypervisor" on PATH
    QString accel = QStringLiteral("auto"); // QEMU: auto | kvm | tcg
};

// A VMM backend. Stateless apart from its options; makes instances.
class VmmDriver {
public:
    virtual ~VmmDriver() = default;
    virtual DriverKind kind() const = 0;
    virtual QString name() const = 0; // "qemu", "cloud-hypervisor"
    // Binary present and runnable, KVM usable where required. The error is
    // one line that says what to install or which driver to use instead.
    virtual Core::Result checkAvailable() const = 0;
    // The instance is not started; the caller owns it (QObject parent or unique_ptr).
    virtual std::unique_ptr<VmmInstance> createInstance(const VmSpec &spec) const = 0;
};

QString driverKindName(DriverKind kind);
Core::Expected<DriverKind> parseDriverKind(const QString &name);

// Resolve options into a driver. Auto picks cloud-hypervisor when KVM is
// usable and a cloud-hypervisor binary is found, else QEMU. An explicit kind
// that cannot work here is an error (not a silent fallback).
Core::Expected<std::unique_ptr<VmmDriver>> createDriver(const DriverOptions &options);

} // namespace Vmm
