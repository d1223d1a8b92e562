#include "server/idlepause.h"

#include "core/log.h"
#include "core/vm/vmmanager.h"

#include <QDateTime>

namespace Server {

IdlePause::IdlePause(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
    m_timer.setInterval(kCheckMs);
    connect(&m_timer, &QTimer::timeout, this, &IdlePause::check);
    connect(&m_manager, &Vm::VmManager::vmRemoved, this, &IdlePause::forget);
    // Resumed, stopped or failed by anyone else: no longer ours to resume.
    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &vm, Vm::VirtualMachine::State state) {
        if (state != Vm::VirtualMachine::State::Paused && !m_pausing.contains(vm))
            m_paused.remove(vm);
        if (state != Vm::VirtualMachine::State::Stopped && !m_pausing.contains(vm))
            m_stopped.remove(vm); // started by someone else: its own run now
        if (state == Vm::VirtualMachine::State::Ready)
            m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch(); // started or resumed: a fresh idle time
    });
}

std::optional<IdlePause::Action> IdlePause::parseAction(const QString &text)
{
    const QString t = text.trimmed().toLower();
    if (t.isEmpty() || t == QLatin1String("pause"))
        return Action::Pause;
    if (t == QLatin1String("snapshot"))
        return Action::SnapshotAndStop;
    return std::nullopt;
}

void IdlePause::setIdleAfterMs(qint64 ms)
{
    m_idleAfterMs = qMax<qint64>(0, ms);
    if (m_idleAfterMs > 0) {
        m_timer.start();
        return;
    }
    m_timer.stop();
    for (const QString &vm : QSet<QString>(m_paused))
        (void)wake(vm);
}

void IdlePause::hold(const QString &vm)
{
    ++m_holds[vm];
    m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch();
}

void IdlePause::release(const QString &vm)
{
    auto it = m_holds.find(vm);
    if (it != m_holds.end() && --it->second <= 0)
        m_holds.erase(it);
    m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch();
}

void IdlePause::check()
{
    if (m_idleAfterMs <= 0)
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (const Vm::VmInfo &info : m_manager.list()) {
        const QString &vm = info.record.name;
        if (info.state != Vm::VirtualMachine::State::Ready || m_holds.count(vm) || m_pausing.contains(vm))
            continue;
        auto [it, fresh] = m_lastUse.try_emplace(vm, now); // first seen running: its idle time starts now
        if (!fresh && now - it->second >= m_idleAfterMs)
            pauseIdle(vm);
    }
}

void IdlePause::pauseIdle(const QString &vm)
{
    m_pausing.insert(vm);
    if (m_action == Action::SnapshotAndStop) {
        snapshotAndStop(vm);
        return;
    }
    Core::Log::core()->info("{}: idle for {} s: pausing it until it is used", vm.toStdString(), m_idleAfterMs / 1000);
    Core::whenDone(m_manager.pause(vm), this, [this, vm](const Core::Result &r) {
        if (r) {
            m_paused.insert(vm);
            Q_EMIT pausedIdle(vm);
        } else {
            Core::Log::core()->warn("{}: the idle pause failed: {}", vm.toStdString(), r.error().message.toStdString());
        }
        idleStepDone(vm);
    });
}

// The snapshot first (a failure leaves the VM running as it was), then the
// stop.
void IdlePause::snapshotAndStop(const QString &vm)
{
    Core::Log::core()->info("{}: idle for {} s: snapshotting and stopping it until it is used", vm.toStdString(), m_idleAfterMs / 1000);
    if (hasIdleSnapshot(vm))
        (void)m_manager.deleteSnapshot(vm, QString::fromLatin1(kSnapshotName)); // an old one, never restored
    Vm::SnapshotOptions options;
    options.name = QString::fromLatin1(kSnapshotName);
    options.leavePaused = true; // nothing runs on past the snapshot
    Core::whenDone(m_manager.snapshot(vm, options), this, [this, vm](const Core::Expected<Snapshot::SnapshotInfo> &snap) {
        if (!snap) {
            Core::Log::core()->warn("{}: the idle snapshot failed: {}", vm.toStdString(), snap.error().message.toStdString());
            (void)m_manager.resume(vm);
            idleStepDone(vm);
            return;
        }
        stopSnapshotted(vm);
    });
}

void IdlePause::stopSnapshotted(const QString &vm)
{
    Core::whenDone(m_manager.stop(vm), this, [this, vm](const Core::Result &r) {
        if (r) {
            m_stopped.insert(vm);
            Q_EMIT pausedIdle(vm);
        } else {
            Core::Log::core()->warn("{}: stopping it after its idle snapshot failed: {}", vm.toStdString(), r.error().message.toStdString());
        }
        idleStepDone(vm);
    });
}

// Requests that came while the VM was being paused or stopped resume it
// again (or find it as it is).
void IdlePause::idleStepDone(const QString &vm)
{
    m_pausing.remove(vm);
    for (const Core::Promise<void> &waiting : m_waiting[vm])
        Core::Detail::forwardTo(wake(vm), waiting);
    m_waiting.erase(vm);
}

bool IdlePause::hasIdleSnapshot(const QString &vm) const
{
    return m_manager.snapshotInfo(vm, QString::fromLatin1(kSnapshotName)).hasValue();
}

// Back from its idle snapshot, which then goes.
Core::Future<void> IdlePause::restoreIdle(const QString &vm)
{
    m_stopped.remove(vm);
    m_pausing.insert(vm); // requests meanwhile wait for it
    Core::Log::core()->info("{}: used again: restoring it from its idle snapshot", vm.toStdString());
    Core::Promise<void> restored;
    Core::whenDone(m_manager.restore(vm, QString::fromLatin1(kSnapshotName)), this, [this, vm, restored](const Core::Result &r) {
        m_pausing.remove(vm);
        if (r) {
            if (auto gone = m_manager.deleteSnapshot(vm, QString::fromLatin1(kSnapshotName)); !gone)
                Core::Log::core()->warn("{}: could not delete its idle snapshot: {}", vm.toStdString(), gone.error().message.toStdString());
            Q_EMIT resumedOnUse(vm);
        } else {
            Core::Log::core()->warn("{}: restoring it from its idle snapshot failed (the snapshot stays): {}", vm.toStdString(),
                                    r.error().message.toStdString());
        }
        for (const Core::Promise<void> &waiting : m_waiting[vm])
            waiting.resolve(Core::Expected<void>());
        m_waiting.erase(vm);
        restored.resolve(Core::Expected<void>()); // the request answers for the VM as it is
    });
    return restored.future();
}

Core::Future<void> IdlePause::wake(const QString &vm)
{
    m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch();
    if (m_pausing.contains(vm)) {
        Core::Promise<void> later;
        m_waiting[vm].append(later);
        return later.future();
    }
    if (m_stopped.contains(vm) || (m_action == Action::SnapshotAndStop && isStoppedWithSnapshot(vm)))
        return restoreIdle(vm);
    if (!m_paused.contains(vm))
        return Core::readyFuture();
    m_paused.remove(vm);
    Core::Log::core()->info("{}: used again: resuming it", vm.toStdString());
    Core::Promise<void> resumed;
    Core::whenDone(m_manager.resume(vm), this, [this, vm, resumed](const Core::Result &r) {
        if (r)
            Q_EMIT resumedOnUse(vm);
        else
            Core::Log::core()->warn("{}: resuming it after its idle pause failed: {}", vm.toStdString(), r.error().message.toStdString());
        // The request runs either way and answers for the VM as it is.
        resumed.resolve(Core::Expected<void>());
    });
    return resumed.future();
}

// Stopped by an earlier life of the service after its idle snapshot.
bool IdlePause::isStoppedWithSnapshot(const QString &vm) const
{
    const auto info = m_manager.info(vm);
    return info && info->state == Vm::VirtualMachine::State::Stopped && hasIdleSnapshot(vm);
}

void IdlePause::forget(const QString &vm)
{
    m_lastUse.erase(vm);
    m_holds.erase(vm);
    m_paused.remove(vm);
    m_stopped.remove(vm);
}

} // namespace Server
