#pragma once

#include "core/vm/vmregistry.h"

#include <QObject>

#include <functional>

namespace Vmm {
class VmmDriver;
}

namespace Vm {

// VMs that outlive the manager that started them: leaving them running on
// purpose (detachAll), recording where each VMM is while it runs, and, at
// the next start, adopting the VMMs that still run (same pid, same start
// time, a command line naming the guest) or clearing the records of those
// that are gone.
class VmAdoption final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmAdoption)
public:
    // Instantiate an entry's VM (the manager's, with its signals wired).
    using EnsureVm = std::function<Core::Result(VmEntry *)>;

    VmAdoption(VmRegistry &registry, const Vmm::VmmDriver &driver, EnsureVm ensureVm, QObject *parent = nullptr);

    // At construction of the manager.
    void adoptLeftRunning();
    struct Detached {
        QStringList left; // left running
        QStringList touched; // whose reported state changed (left, or stopped because their record could not be saved)
    };
    Detached detachAll();

    // Record where the VM's VMM is, so that it is adopted even after a crash.
    void recordRunningVmm(const QString &name);
    // Stopped, failed, or its adoption failed: the record no longer points
    // at a VMM. (detachAll disconnects first: a detached VM is not ended.)
    void clearRunningVmmWhenItEnds(VirtualMachine *vm, const QString &name);
    // In the manager's destructor: the VMs about to be stopped run nowhere any more.
    void forgetRunningVmms();

private:
    void adopt(VmEntry *entry);
    bool detach(const QString &name, VmEntry &entry);
    void adoptionEnded(const QString &name, const Core::Result &r);
    void clearRunningVmm(const QString &name);

    VmRegistry &m_registry;
    const Vmm::VmmDriver &m_driver;
    EnsureVm m_ensureVm;
};

} // namespace Vm
