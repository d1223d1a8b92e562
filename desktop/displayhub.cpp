#include "desktop/displayhub.h"

#include "core/vm/vmmanager.h"
#include "desktop/vmdisplay.h"

namespace Desktop {

DisplayHub::DisplayHub(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
    connect(&manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &name, Vm::VirtualMachine::State state) {
        if (state != Vm::VirtualMachine::State::Ready && state != Vm::VirtualMachine::State::Paused)
            drop(name);
    });
    connect(&manager, &Vm::VmManager::vmRemoved, this, &DisplayHub::drop);
}

DisplayHub::~DisplayHub()
{
    for (const QPointer<VmDisplay> &d : std::as_const(m_displays))
        delete d.data();
}

Core::Expected<VmDisplay *> DisplayHub::display(const QString &vmName)
{
    if (VmDisplay *d = existing(vmName))
        return d;
    if (!m_manager.contains(vmName))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(vmName));
    Vm::VirtualMachine *vm = m_manager.vm(vmName);
    if (!vm || (vm->state() != Vm::VirtualMachine::State::Ready && vm->state() != Vm::VirtualMachine::State::Paused))
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not running: start it to see its display").arg(vmName));
    const Templates::DesktopSpec &desktop = vm->vmTemplate().desktop;
    if (!desktop.enabled)
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("VM %1 has no desktop: its template '%2' starts no VNC server (use a desktop template, "
                                          "e.g. 'desktop')")
                               .arg(vmName, vm->vmTemplate().name));
    auto *d = new VmDisplay(*vm, desktop.vncPort, this);
    m_displays.insert(vmName, d);
    Q_EMIT displayAdded(vmName, d);
    return d;
}

VmDisplay *DisplayHub::existing(const QString &vmName) const
{
    return m_displays.value(vmName).data();
}

void DisplayHub::drop(const QString &vmName)
{
    const QPointer<VmDisplay> d = m_displays.take(vmName);
    if (!d)
        return;
    Q_EMIT displayRemoved(vmName);
    delete d.data();
}

} // namespace Desktop
