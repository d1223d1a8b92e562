#include "core/vmm/vmminstance.h"

#include <QDateTime>
#include <QTimer>

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

Core::Result VmmInstance::checkMemoryTarget(qint64 targetMiB) const
{
    if (state() != State::Running)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a running VM's memory can change (it is %1)").arg(stateName(state())));
    if (targetMiB < 1 || targetMiB > spec().memoryMiB)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("memory must be between 1 and the %1 MiB the VM booted with, not %2").arg(spec().memoryMiB).arg(targetMiB));
    return {};
}

namespace {

void pollMemory(VmmInstance *vmm, Core::Promise<qint64> promise, qint64 targetMiB, qint64 deadline, int timeoutMs, int intervalMs)
{
    Core::whenDone(vmm->memory(), vmm, [vmm, promise, targetMiB, deadline, timeoutMs, intervalMs](const Core::Expected<qint64> &now) {
        if (!now || *now == targetMiB) {
            promise.resolve(now);
            return;
        }
        if (QDateTime::currentMSecsSinceEpoch() > deadline) {
            promise.fail(Core::ErrorCode::Timeout,
                         QStringLiteral("the guest's memory reached %1 MiB, not the %2 MiB asked for, within %3 s (is its virtio_balloon driver loaded?)")
                             .arg(*now)
                             .arg(targetMiB)
                             .arg(timeoutMs / 1000));
            return;
        }
        QTimer::singleShot(intervalMs, vmm, [=]() { pollMemory(vmm, promise, targetMiB, deadline, timeoutMs, intervalMs); });
    });
}

} // namespace

Core::Future<qint64> VmmInstance::awaitMemory(qint64 targetMiB, int timeoutMs, int intervalMs)
{
    Core::Promise<qint64> promise;
    pollMemory(this, promise, targetMiB, QDateTime::currentMSecsSinceEpoch() + timeoutMs, timeoutMs, intervalMs);
    return promise.future();
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
