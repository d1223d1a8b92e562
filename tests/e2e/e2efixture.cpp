#include "e2efixture.h"

#include "core/vmm/kvmprobe.h"
#include "core/vmm/vmmprocess.h"

namespace E2e {

void initEnvironment()
{
    if (qEnvironmentVariableIsEmpty("MVS_AGENT_BINARY"))
        qputenv("MVS_AGENT_BINARY", MVS_AGENT_BINARY);
}

void addDriverRows()
{
    QTest::addColumn<int>("driver");
    QTest::newRow("qemu") << static_cast<int>(Vmm::DriverKind::Qemu);
    QTest::newRow("cloud-hypervisor") << static_cast<int>(Vmm::DriverKind::CloudHypervisor);
}

Vmm::DriverKind currentDriverKind()
{
    QFETCH(int, driver);
    return static_cast<Vmm::DriverKind>(driver);
}

DriverOrSkip driverFor(Vmm::DriverKind kind)
{
    Vmm::DriverOptions o;
    o.kind = kind;
    o.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto d = Vmm::createDriver(o);
    if (!d) {
        if (kind == Vmm::DriverKind::CloudHypervisor)
            return {nullptr, QStringLiteral("cloud-hypervisor cannot run here: %1").arg(d.error().message)};
        return {nullptr, QStringLiteral("FAIL: %1").arg(d.error().message)};
    }
    return {std::shared_ptr<Vmm::VmmDriver>(std::move(*d)), QString()};
}

Templates::VmTemplate minimalTemplate()
{
    auto t = Templates::VmTemplate::load(QStringLiteral("minimal"));
    if (!t)
        qFatal("cannot load the minimal template: %s", qPrintable(t.error().message));
    return *t;
}

} // namespace E2e
