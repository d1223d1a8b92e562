#include "core/vm/livecpus.h"

#include <QDateTime>
#include <QTimer>

#include "core/agent/agentclient.h"
#include "core/vm/virtualmachine.h"

namespace Vm::LiveCpus {

Core::Result check(const QString &name, int target, int now, int ceiling)
{
    if (target > now && ceiling <= now)
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("VM %1 was started with room for no more than its %2 vCPUs: stop it, give it max_vcpus "
                                          "(PATCH .../resources {\"max_vcpus\": N}), start it, and vCPUs can be added while it runs")
                               .arg(name)
                               .arg(now));
    if (target < 1 || target > ceiling)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("VM %1 can have between 1 and %2 vCPUs while it runs (its max_vcpus), not %3").arg(name).arg(ceiling).arg(target));
    return {};
}

namespace {

// One pass over the guest's vCPUs: every one offline goes online (sysfs;
// the guest's agent runs as root). A vCPU just added may not be there yet
// (the guest's ACPI adds it a moment after the VMM did), so the passes
// repeat until the guest counts them all.
Core::Future<void> onlinePass(VirtualMachine *vm)
{
    Agent::ExecRequest online;
    online.shell = QStringLiteral("for f in /sys/devices/system/cpu/cpu[0-9]*/online; do "
                                  "[ -e \"$f\" ] && [ \"$(cat \"$f\")\" = 0 ] && echo 1 > \"$f\"; done; true");
    online.timeoutMs = kOnlineTimeoutMs;
    return Core::then(vm->agent()->run(online), vm, [](const Agent::ExecResult &) -> Core::Result { return {}; });
}

struct Wait {
    VirtualMachine *vm;
    Core::Promise<int> promise;
    int target;
    bool online; // growing: pass over the vCPUs before each count
    qint64 deadline;
};

void pollGuest(const Wait &w);

void countGuest(const Wait &w)
{
    Core::whenDone(w.vm->agent()->health(), w.vm, [w](const Core::Expected<Agent::Health> &health) {
        if (!health || int(health->cpus) == w.target) {
            w.promise.resolve(health ? Core::Expected<int>(w.target) : Core::Expected<int>(health.error()));
            return;
        }
        if (QDateTime::currentMSecsSinceEpoch() > w.deadline) {
            w.promise.fail(Core::ErrorCode::Timeout,
                           QStringLiteral("VM %1's guest counts %2 vCPUs online, not %3, after %4 s")
                               .arg(w.vm->name())
                               .arg(health->cpus)
                               .arg(w.target)
                               .arg(kGuestTimeoutMs / 1000));
            return;
        }
        QTimer::singleShot(kGuestPollIntervalMs, w.vm, [w]() { pollGuest(w); });
    });
}

void pollGuest(const Wait &w)
{
    if (!w.vm->agent() || !w.vm->agent()->isReady()) {
        w.promise.fail(Core::ErrorCode::InvalidState, QStringLiteral("VM %1's agent went away").arg(w.vm->name()));
        return;
    }
    if (!w.online) {
        countGuest(w);
        return;
    }
    Core::whenDone(onlinePass(w.vm), w.vm, [w](const Core::Result &passed) {
        if (!passed)
            w.promise.resolve(passed.error());
        else
            countGuest(w);
    });
}

Core::Future<int> awaitGuest(VirtualMachine *vm, int target, bool online)
{
    Core::Promise<int> promise;
    pollGuest(Wait{vm, promise, target, online, QDateTime::currentMSecsSinceEpoch() + kGuestTimeoutMs});
    return promise.future();
}

} // namespace

Core::Future<int> resize(VirtualMachine *vm, int target)
{
    const int now = vm->vcpus();
    if (auto ok = check(vm->name(), target, now, vm->vcpuCeiling()); !ok)
        return Core::readyFuture<int>(ok.error());
    if (target == now)
        return Core::readyFuture<int>(now);
    if (!vm->agent() || !vm->agent()->isReady())
        return Core::readyFuture<int>(Core::Error(Core::ErrorCode::InvalidState,
                                                  QStringLiteral("VM %1's agent is not connected, so nothing would bring its vCPUs online").arg(vm->name())));
    return Core::then(vm->hotplugVcpus(target), vm, [vm, target, now](int) { return awaitGuest(vm, target, target > now); });
}

} // namespace Vm::LiveCpus
