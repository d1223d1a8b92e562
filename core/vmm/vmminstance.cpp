#include "core/vmm/vmminstance.h"

#include "core/vmm/consolelog.h"

namespace Vmm {

Core::Expected<DetachedVmm> VmmInstance::handle() const
{
    return Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot leave a VM running").arg(driverName()));
}

Core::Expected<DetachedVmm> VmmInstance::detach()
{
    return Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot leave a VM running").arg(driverName()));
}

Core::Future<void> VmmInstance::adopt(const DetachedVmm &)
{
    return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot adopt a running VM").arg(driverName())));
}

Core::Future<qint64> VmmInstance::setMemory(qint64)
{
    return Core::readyFuture<qint64>(
        Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot change a running VM's memory").arg(driverName())));
}

Core::Future<qint64> VmmInstance::memory()
{
    return Core::readyFuture<qint64>(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver has no balloon").arg(driverName())));
}

void VmmInstance::readConsole(const QString &socketPath)
{
    if (consoleLogPath().isEmpty())
        return;
    if (!m_console)
        m_console = new ConsoleLog(consoleLogPath(), this);
    m_console->attach(socketPath);
}

void VmmInstance::closeConsole()
{
    if (m_console)
        m_console->close();
}

QString stateName(VmmInstance::State state)
{
    switch (state) {
    case VmmInstance::State::NotStarted: return QStringLiteral("not-started");
    case VmmInstance::State::Starting: return QStringLiteral("starting");
    case VmmInstance::State::Running: return QStringLiteral("running");
    case VmmInstance::State::Paused: return QStringLiteral("paused");
    case VmmInstance::State::Stopping: return QStringLiteral("stopping");
    case VmmInstance::State::Stopped: return QStringLiteral("stopped");
    case VmmInstance::State::Failed: return QStringLiteral("failed");
    }
    return QStringLiteral("unknown");
}

} // namespace Vmm
