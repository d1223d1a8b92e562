#pragma once

#include "core/async.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/vmmdriver.h"

class QObject;

namespace Vmm {

// QEMU: KVM when it is usable, TCG software emulation otherwise.
class QemuDriver final : public VmmDriver {
public:
    QemuDriver(QString binary, QString accel);

    DriverKind kind() const override { return DriverKind::Qemu; }
    QString name() const override { return QStringLiteral("qemu"); }
    Core::Result checkAvailable() const override;
    std::unique_ptr<VmmInstance> createInstance(const VmSpec &spec) const override;

    QString binary() const;

private:
    QString m_binary;
    QString m_accel;
};

// How long a guest kernel gets to reach its root-mount panic under KVM in the
// boot probe (well under a second where KVM works).
inline constexpr int kKvmBootProbeTimeoutMs = 8000;

// The accelerator to use: kvm or tcg when forced; for "auto", KVM only if
// kvmUsable() *and* this QEMU boots `kernelPath` under KVM to its no-root panic
// within kKvmBootProbeTimeoutMs. Some nested hosts pass every vCPU test and
// still hang a real kernel (seen on the CI machines). The verdict is cached
// per host boot, QEMU binary and kernel in the cache dir, so the boot probe
// runs once. `context` owns the probe process.
Core::Future<QemuCommandLine::Accel> resolveQemuAccel(const QString &binary, const QString &accel,
                                                      const QString &kernelPath, QObject *context);

} // namespace Vmm
