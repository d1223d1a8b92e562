#include "core/vmm/vmminstance.h"

#include <algorithm>

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

Core::Future<int> VmmInstance::setVcpus(int)
{
    return Core::readyFuture<int>(
        Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot add or remove a running VM's vCPUs").arg(driverName())));
}

Core::Future<int> VmmInstance::vcpus()
{
    return Core::readyFuture<int>(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the %1 driver cannot count vCPUs").arg(driverName())));
}

Core::Result VmmInstance::checkVcpuTarget(int count) const
{
    if (state() != State::Running)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a running VM's vCPUs can change (it is %1)").arg(stateName(state())));
    const int most = std::max(spec().vcpus, spec().maxVcpus);
    if (count < 1 || count > most)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("vcpus must be between 1 and the %1 the VM was started for, not %2").arg(most).arg(count));
    return {};
}

namespace {

// Asks `get` every intervalMs until it answers target; Timeout past the
// deadline, with what `late` says about where it got to.
template<typename T, typename Get, typename Late>
void pollUntil(VmmInstance *vmm, Core::Promise<T> promise, Get get, T target, qint64 deadline, int intervalMs, Late late)
{
    Core::whenDone(get(), vmm, [=](const Core::Expected<T> &now) {
        if (!now || *now == target) {
            promise.resolve(now);
            return;
        }
        if (QDateTime::currentMSecsSinceEpoch() > deadline) {
            promise.fail(Core::ErrorCode::Timeout, late(*now));
            return;
        }
        QTimer::singleShot(intervalMs, vmm, [=]() { pollUntil(vmm, promise, get, target, deadline, intervalMs, late); });
    });
}

} // namespace

Core::Future<qint64> VmmInstance::awaitMemory(qint64 targetMiB, int timeoutMs, int intervalMs)
{
    Core::Promise<qint64> promise;
    auto late = [targetMiB, timeoutMs](qint64 now) {
        return QStringLiteral("the guest's memory reached %1 MiB, not the %2 MiB asked for, within %3 s (is its virtio_balloon driver loaded?)")
            .arg(now)
            .arg(targetMiB)
            .arg(timeoutMs / 1000);
    };
    pollUntil<qint64>(
        this, promise, [this]() { return memory(); }, targetMiB, QDateTime::currentMSecsSinceEpoch() + timeoutMs, intervalMs, late);
    return promise.future();
}

Core::Future<int> VmmInstance::awaitVcpus(int count, int timeoutMs, int intervalMs)
{
    Core::Promise<int> promise;
    auto late = [count, timeoutMs](int now) {
        return QStringLiteral("the VM has %1 vCPUs, not the %2 asked for, after %3 s (a guest lets a vCPU go only through its ACPI hot-plug support)")
            .arg(now)
            .arg(count)
            .arg(timeoutMs / 1000);
    };
    pollUntil<int>(
        this, promise, [this]() { return vcpus(); }, count, QDateTime::currentMSecsSinceEpoch() + timeoutMs, intervalMs, late);
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
