#include "core/vm/livememory.h"

#include "core/agent/agentclient.h"
#include "core/vm/virtualmachine.h"

namespace Vm::LiveMemory {

Core::Result check(qint64 targetMiB, qint64 bootMiB, qint64 nowMiB, const Agent::Health *health)
{
    auto invalid = [](const QString &m) { return Core::Error(Core::ErrorCode::InvalidArgument, m); };
    if (targetMiB > bootMiB)
        return invalid(QStringLiteral("a running VM's memory can grow back to the %1 MiB it booted with, not to %2 MiB: stop it to give it more")
                           .arg(bootMiB)
                           .arg(targetMiB));
    if (targetMiB < kMinMiB)
        return invalid(QStringLiteral("memory must be at least %1 MiB, not %2").arg(kMinMiB).arg(targetMiB));
    if (targetMiB >= nowMiB || !health)
        return {};
    const qint64 availableMiB = qint64(health->memAvailableKiB / 1024);
    const qint64 floorMiB = qMax(kMinMiB, nowMiB - availableMiB + kHeadroomMiB);
    if (targetMiB < floorMiB)
        return invalid(QStringLiteral("the guest has %1 of its %2 MiB available; it can shrink to %3 MiB (keeping %4 MiB free), not to %5 MiB")
                           .arg(availableMiB)
                           .arg(nowMiB)
                           .arg(floorMiB)
                           .arg(kHeadroomMiB)
                           .arg(targetMiB));
    return {};
}

namespace {

// The guest's virtio_balloon driver is bound (a guest without it, from an
// image or snapshot made before it, would leave the balloon unanswered).
Core::Future<void> checkDriver(VirtualMachine *vm)
{
    Agent::ExecRequest probe;
    probe.argv = {QStringLiteral("test"), QStringLiteral("-d"), QStringLiteral("/sys/bus/virtio/drivers/virtio_balloon")};
    probe.timeoutMs = kDriverCheckTimeoutMs;
    const QString name = vm->name();
    return Core::then(vm->agent()->run(probe), vm, [name](const Agent::ExecResult &r) -> Core::Result {
        if (r.exitCode == 0)
            return {};
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("VM %1's guest has no virtio_balloon driver (its image or snapshot was made before every VM had one), "
                                          "so its memory cannot change while it runs: stop it, resize it, start it")
                               .arg(name));
    });
}

// Shrinking: only as far as the guest can spare (its agent says).
Core::Future<qint64> shrink(VirtualMachine *vm, qint64 targetMiB, qint64 bootMiB, qint64 nowMiB)
{
    return Core::then(vm->agent()->health(), vm, [vm, targetMiB, bootMiB, nowMiB](const Agent::Health &health) -> Core::Future<qint64> {
        if (auto ok = check(targetMiB, bootMiB, nowMiB, &health); !ok)
            return Core::readyFuture<qint64>(ok.error());
        return vm->setMemory(targetMiB);
    });
}

} // namespace

Core::Future<qint64> resize(VirtualMachine *vm, qint64 targetMiB)
{
    const qint64 bootMiB = vm->memoryMiB();
    const qint64 nowMiB = vm->memoryNowMiB();
    if (auto ok = check(targetMiB, bootMiB, nowMiB, nullptr); !ok)
        return Core::readyFuture<qint64>(ok.error());
    if (!vm->agent() || !vm->agent()->isReady())
        return Core::readyFuture<qint64>(Core::Error(
            Core::ErrorCode::InvalidState, QStringLiteral("VM %1's agent is not connected, so nothing says how much memory it can spare").arg(vm->name())));
    return Core::then(checkDriver(vm), vm,
                      [vm, targetMiB, bootMiB, nowMiB]() { return targetMiB >= nowMiB ? vm->setMemory(targetMiB) : shrink(vm, targetMiB, bootMiB, nowMiB); });
}

} // namespace Vm::LiveMemory
