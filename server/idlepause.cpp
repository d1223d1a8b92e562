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
        if (state == Vm::VirtualMachine::State::Ready)
            m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch(); // started or resumed: a fresh idle time
    });
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
    Core::Log::core()->info("{}: idle for {} s: pausing it until it is used", vm.toStdString(), m_idleAfterMs / 1000);
    Core::whenDone(m_manager.pause(vm), this, [this, vm](const Core::Result &r) {
        m_pausing.remove(vm);
        if (r) {
            m_paused.insert(vm);
            Q_EMIT pausedIdle(vm);
        } else {
            Core::Log::core()->warn("{}: the idle pause failed: {}", vm.toStdString(), r.error().message.toStdString());
        }
        // Requests that came meanwhile resume it again (or find it as it is).
        for (const Core::Promise<void> &waiting : m_waiting[vm])
            Core::Detail::forwardTo(wake(vm), waiting);
        m_waiting.erase(vm);
    });
}

Core::Future<void> IdlePause::wake(const QString &vm)
{
    m_lastUse[vm] = QDateTime::currentMSecsSinceEpoch();
    if (m_pausing.contains(vm)) {
        Core::Promise<void> later;
        m_waiting[vm].append(later);
        return later.future();
    }
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

void IdlePause::forget(const QString &vm)
{
    m_lastUse.erase(vm);
    m_holds.erase(vm);
    m_paused.remove(vm);
}

} // namespace Server
