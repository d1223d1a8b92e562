#include "core/vm/vmadoption.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmmdriver.h"

#include <QDir>
#include <QFileInfo>

#include <csignal>

namespace Vm {

VmAdoption::VmAdoption(VmRegistry &registry, const Vmm::VmmDriver &driver, EnsureVm ensureVm, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
    , m_driver(driver)
    , m_ensureVm(std::move(ensureVm))
{
}

VmAdoption::Detached VmAdoption::detachAll()
{
    Detached out;
    for (const auto &[name, entry] : m_registry.entries()) {
        VirtualMachine *vm = entry->vm.get();
        if (!vm || entry->removing)
            continue;
        const VirtualMachine::State s = vm->state();
        if (s != VirtualMachine::State::Ready && s != VirtualMachine::State::Paused)
            continue;
        if (detach(name, *entry))
            out.left << name;
        if (!entry->vm)
            out.touched << name;
    }
    if (!out.left.isEmpty())
        Core::Log::core()->info("left {} VM(s) running for the next start: {}", out.left.size(), out.left.join(QStringLiteral(", ")).toStdString());
    return out;
}

// Let go of one VM and leave it running; false when it cannot be (still
// attached) or its record could not say where it is (then it is stopped).
bool VmAdoption::detach(const QString &name, VmEntry &entry)
{
    // Not a stop: the manager must not see the VM go Stopped.
    entry.vm->disconnect(parent());
    entry.vm->disconnect(this);
    auto d = entry.vm->detach();
    if (!d) {
        Core::Log::core()->warn("{}: cannot leave it running: {}", name.toStdString(), d.error().message.toStdString());
        return false;
    }
    entry.record.runningVmm = *d;
    const auto saved = m_registry.save(entry.record);
    // The detached object owns nothing now.
    entry.vm.release()->deleteLater();
    if (saved)
        return true;
    // Without its record nobody finds the VMM again: do not orphan it.
    Core::Log::core()->warn("{}: {}; stopping it instead", name.toStdString(), saved.error().message.toStdString());
    entry.record.runningVmm.reset();
    if (const auto start = Vmm::processStartTime(d->pid); start && *start == d->startTime)
        ::kill(static_cast<pid_t>(d->pid), SIGKILL);
    QDir(d->runtimeDir).removeRecursively();
    return false;
}

void VmAdoption::adoptLeftRunning()
{
    for (const auto &[name, entry] : m_registry.entries()) {
        if (entry->record.runningVmm)
            adopt(entry.get());
    }
}

void VmAdoption::adopt(VmEntry *entry)
{
    const QString name = entry->record.name;
    const Vmm::DetachedVmm vmm = *entry->record.runningVmm;
    if (vmm.managedElsewhere()) {
        // Another manager on this state directory (a GUI beside --serve)
        // runs it: not ours to take over, nor to clear.
        Core::Log::core()->warn("{}: its VMM (pid {}) is managed by process {}; not adopted", name.toStdString(), vmm.pid, vmm.managerPid);
        return;
    }
    if (auto alive = vmm.checkAlive(name); !alive) {
        Core::Log::core()->warn("{}: not adopting the VMM left running (pid {}): {}; the VM is stopped", name.toStdString(), vmm.pid,
                                alive.error().message.toStdString());
        // Its runtime directory, if it is one of ours (never follow a record
        // anywhere else).
        const QFileInfo dir(vmm.runtimeDir);
        if (dir.isDir() && QDir(dir.absolutePath()) == QDir(Core::Paths::runtimeDir()) && dir.fileName().startsWith(name.left(32) + QLatin1Char('-')))
            QDir(vmm.runtimeDir).removeRecursively();
        clearRunningVmm(name);
        return;
    }
    if (vmm.driver != m_driver.name()) {
        Core::Log::core()->warn("{}: its VMM (pid {}) runs with the {} driver, this manager uses {}: not adopted, left running", name.toStdString(), vmm.pid,
                                vmm.driver.toStdString(), m_driver.name().toStdString());
        return;
    }
    if (auto ok = m_ensureVm(entry); !ok) {
        Core::Log::core()->warn("{}: cannot adopt its VMM (pid {}): {}; left running", name.toStdString(), vmm.pid, ok.error().message.toStdString());
        return;
    }
    Core::Log::core()->info("{}: adopting the VMM left running (pid {}, runtime directory {})", name.toStdString(), vmm.pid, vmm.runtimeDir.toStdString());
    Core::whenDone(entry->vm->adopt(vmm), this, [this, name](const Core::Result &r) { adoptionEnded(name, r); });
}

void VmAdoption::adoptionEnded(const QString &name, const Core::Result &r)
{
    if (r) {
        recordRunningVmm(name); // managed here now
        return;
    }
    Core::Log::core()->warn("{}: adopting its VMM failed: {}", name.toStdString(), r.error().message.toStdString());
    if (VmEntry *e = m_registry.find(name)) {
        e->record.desired = VmRecord::Desired::Stopped;
        m_registry.setLastError(name, r.error());
    }
}

void VmAdoption::recordRunningVmm(const QString &name)
{
    VmEntry *e = m_registry.find(name);
    if (!e || !e->vm)
        return;
    auto d = e->vm->vmmHandle();
    if (!d) {
        Core::Log::core()->warn("{}: it cannot be left running: {}", name.toStdString(), d.error().message.toStdString());
        return;
    }
    d->setManagedHere();
    e->record.runningVmm = *d;
    m_registry.saveOrWarn(e->record);
}

void VmAdoption::clearRunningVmmWhenItEnds(VirtualMachine *vm, const QString &name)
{
    connect(vm, &VirtualMachine::stateChanged, this, [this, name](VirtualMachine::State s) {
        if (s == VirtualMachine::State::Stopped || s == VirtualMachine::State::Failed)
            clearRunningVmm(name);
    });
}

void VmAdoption::forgetRunningVmms()
{
    for (const auto &[name, entry] : m_registry.entries()) {
        if (entry->vm && entry->record.runningVmm)
            clearRunningVmm(name);
    }
}

void VmAdoption::clearRunningVmm(const QString &name)
{
    VmEntry *e = m_registry.find(name);
    if (!e || !e->record.runningVmm)
        return;
    e->record.runningVmm.reset();
    m_registry.saveOrWarn(e->record);
}

} // namespace Vm
