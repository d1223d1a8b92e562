#pragma once

#include "core/async.h"
#include "core/vmm/kvmbootprobe.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmmdriver.h"

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

// The accelerator to use: kvm or tcg when forced; for "auto", KVM only if
// kvmUsable() *and* this QEMU boots `kernelPath` under KVM to its no-root panic
// within KvmBootProbe::kDefaultTimeoutMs. Some nested hosts pass every vCPU
// test and still hang a real kernel (seen on the CI machines). The verdict is
// kept per host boot, QEMU binary and kernel in kvmProbeDir() (per-boot state:
// the runtime directory), so the boot probe runs once; VMs that start while it
// runs share it. The probe belongs to the application, not to the caller.
// With `vmmUser`, KVM counts only if that user may open /dev/kvm (e.g. in
// the kvm group): the probes run as this process.
Core::Future<QemuCommandLine::Accel> resolveQemuAccel(const QString &binary, const QString &accel, const QString &kernelPath,
                                                      const std::optional<VmmCredentials> &vmmUser = std::nullopt);
// KVM as usable by `vmmUser`: `kvm`, unless that user may not open `device`.
KvmStatus kvmStatusFor(const KvmStatus &kvm, const std::optional<VmmCredentials> &vmmUser, const QString &device = QStringLiteral("/dev/kvm"));

// When this host's KVM is usable but the VMM user may not open /dev/kvm,
// QEMU uses TCG without a boot probe; that decision is kept as a verdict too
// ("tcg: <why>", in kvmVmmUserVerdictPath()), so a person sees why KVM was
// not used. It is not read back: the check is one stat and must follow a
// usermod or chmod at once, not at the next host boot. Removed once the
// user may open it.
void keepKvmVmmUserVerdict(const KvmStatus &host, const KvmStatus &forVmm);
QString kvmVmmUserVerdictPath();

// The boot probe's verdict for this QEMU and kernel: read from `verdictFile`
// when it holds one, else probed (one probe for all who ask meanwhile) and
// written there. Resolved with Cancelled only when the probe is abandoned
// (the application is ending).
Core::Future<KvmBootProbe::Verdict> kvmBootVerdict(const QString &binary, const QString &kernelPath, const QString &verdictFile,
                                                   int timeoutMs = KvmBootProbe::kDefaultTimeoutMs);

// Where the boot probe keeps its verdicts and its temporary directories.
QString kvmProbeDir();

} // namespace Vmm
