#include "core/vmm/chdriver.h"

#include "core/vmm/chinstance.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemudriver.h" // kvmStatusFor
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmmprocess.h"

namespace Vmm {

ChDriver::ChDriver(QString binary)
    : m_binary(binary.isEmpty() ? QLatin1String(kDefaultBinary) : std::move(binary))
{
}

QString ChDriver::binary() const
{
    return findExecutable(m_binary);
}

Core::Result ChDriver::checkAvailable() const
{
    if (binary().isEmpty()) {
        if (m_binary == QLatin1String(kDefaultBinary))
            return Core::Error(Core::ErrorCode::BinaryMissing,
                               QStringLiteral("cloud-hypervisor binary not found on PATH; install it or set the binary in the config, or use --driver qemu"));
        return Core::Error(
            Core::ErrorCode::BinaryMissing,
            QStringLiteral("cloud-hypervisor binary '%1' not found or not executable; install it or set the binary in the config, or use --driver qemu")
                .arg(m_binary));
    }
    // A root service's cloud-hypervisor runs as the VMM user: KVM counts
    // only if that user may open /dev/kvm.
    const auto vmmUser = vmmCredentials();
    if (!vmmUser)
        return vmmUser.error();
    const KvmStatus kvm = kvmStatusFor(kvmStatus(), *vmmUser);
    if (!kvm.usable)
        return Core::Error(Core::ErrorCode::KvmUnavailable,
                           QStringLiteral("cloud-hypervisor needs a usable /dev/kvm (%1); use --driver qemu for software emulation").arg(kvm.reason));
    return {};
}

std::unique_ptr<VmmInstance> ChDriver::createInstance(const VmSpec &spec) const
{
    const QString resolved = binary();
    return std::make_unique<ChInstance>(spec, resolved.isEmpty() ? m_binary : resolved);
}

} // namespace Vmm
