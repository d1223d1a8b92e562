#include "core/vmm/vmmdriver.h"

#include "core/log.h"
#include "core/vmm/chdriver.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmmprocess.h"

namespace Vmm {

QString driverKindName(DriverKind kind)
{
    switch (kind) {
    case DriverKind::Auto: return QStringLiteral("auto");
    case DriverKind::Qemu: return QStringLiteral("qemu");
    case DriverKind::CloudHypervisor: return QStringLiteral("cloud-hypervisor");
    }
    return QStringLiteral("auto");
}

Core::Expected<DriverKind> parseDriverKind(const QString &name)
{
    const QString n = name.trimmed().toLower();
    if (n.isEmpty() || n == QLatin1String("auto"))
        return DriverKind::Auto;
    if (n == QLatin1String("qemu"))
        return DriverKind::Qemu;
    if (n == QLatin1String("cloud-hypervisor") || n == QLatin1String("ch") || n == QLatin1String("cloudhypervisor"))
        return DriverKind::CloudHypervisor;
    return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("unknown VMM driver '%1' (auto, qemu or cloud-hypervisor)").arg(name));
}

Core::Expected<std::unique_ptr<VmmDriver>> createDriver(const DriverOptions &options)
{
    DriverKind kind = options.kind;
    if (kind == DriverKind::Auto) {
        const QString ch = findExecutable(options.chBinary.isEmpty() ? QStringLiteral("cloud-hypervisor") : options.chBinary);
        // cloud-hypervisor of a root service runs as the VMM user: KVM must be that user's.
        const KvmStatus kvm = kvmStatusFor(kvmStatus(), vmmCredentials().valueOr(std::nullopt));
        kind = (!ch.isEmpty() && kvm.usable) ? DriverKind::CloudHypervisor : DriverKind::Qemu;
        Core::Log::vmm()->info("driver auto: {} (cloud-hypervisor binary {}, KVM {})", driverKindName(kind).toStdString(),
                               ch.isEmpty() ? "not found" : ch.toStdString(), kvm.usable ? "usable" : kvm.reason.toStdString());
    }
    std::unique_ptr<VmmDriver> driver;
    if (kind == DriverKind::CloudHypervisor)
        driver = std::make_unique<ChDriver>(options.chBinary);
    else
        driver = std::make_unique<QemuDriver>(options.qemuBinary, options.accel);
    if (auto ok = driver->checkAvailable(); !ok)
        return ok.error();
    return driver;
}

} // namespace Vmm
