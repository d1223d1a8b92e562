#pragma once
// A test double of a VMM (no process runs): FakeVmmInstance answers every
// call at once, or holds the calls the test names until it releases them,
// fails the calls it is told to fail, logs every call, and "dies" when the
// test says so. FakeVmmDriver hands out such instances.

#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"

#include <QDir>
#include <QFile>
#include <QHash>
#include <QPointer>
#include <QSet>

#include <functional>

namespace FakeVmm {

class Instance final : public Vmm::VmmInstance {
public:
    Instance(Vmm::VmSpec spec, QString agentSocket)
        : m_spec(std::move(spec))
        , m_agentSocket(std::move(agentSocket))
    {
    }

    QString driverName() const override { return QStringLiteral("fake"); }
    const Vmm::VmSpec &spec() const override { return m_spec; }
    State state() const override { return m_state; }
    qint64 pid() const override { return 0; }
    Core::Future<void> start() override { return call(QStringLiteral("start"), State::Running); }
    Core::Future<void> pause() override { return call(QStringLiteral("pause"), State::Paused); }
    Core::Future<void> resume() override { return call(QStringLiteral("resume"), State::Running); }
    Core::Future<void> shutdown() override { return call(QStringLiteral("shutdown"), State::Stopped); }
    void kill() override
    {
        m_log << QStringLiteral("kill");
        m_state = State::Stopped;
    }
    // Writes the state file, as a VMM would.
    Core::Future<void> saveState(const QString &directory) override
    {
        QFile f(QDir(directory).filePath(QStringLiteral("memory.state")));
        if (f.open(QIODevice::WriteOnly))
            f.write("fake state");
        return call(QStringLiteral("save"), m_state);
    }
    Core::Future<void> startFromState(const QString &, const QString &) override { return call(QStringLiteral("load"), State::Running); }
    bool cancelSaveState() override
    {
        m_log << QStringLiteral("cancel-save");
        if (!m_cancellableSave || !m_held.contains(QStringLiteral("save")))
            return false;
        m_held.take(QStringLiteral("save")).fail(Core::ErrorCode::Cancelled, QStringLiteral("saving the VM's state was cancelled"));
        return true;
    }
    QStringList stateFiles() const override { return {QStringLiteral("memory.state")}; }
    Vmm::AgentEndpoint agentEndpoint() const override { return {m_agentSocket, 0}; }
    bool accelerated() const override { return false; }

    // The next call named `op` waits until release(op).
    void hold(const QString &op) { m_toHold << op; }
    bool isHolding(const QString &op) const { return m_held.contains(op); }
    void release(const QString &op) { m_held.take(op).resolve({}); }
    // Calls named `op` fail with `error` from now on.
    void failWith(const QString &op, const Core::Error &error) { m_failures.insert(op, error); }
    void setCancellableSave(bool cancellable) { m_cancellableSave = cancellable; }
    QStringList log() const { return m_log; }

    // The "VMM" ends on its own, as a crashed QEMU would.
    void die(const QString &why)
    {
        m_state = State::Failed;
        Q_EMIT exitedUnexpectedly(Core::Error(Core::ErrorCode::VmmFailed, why));
    }

private:
    Core::Future<void> call(const QString &op, State next)
    {
        m_log << op;
        if (m_failures.contains(op))
            return Core::readyFuture<void>(m_failures.value(op));
        m_state = next;
        Q_EMIT stateChanged(next);
        if (!m_toHold.remove(op))
            return Core::readyFuture();
        Core::Promise<void> p;
        m_held.insert(op, p);
        return p.future();
    }

    Vmm::VmSpec m_spec;
    QString m_agentSocket;
    State m_state = State::NotStarted;
    QStringList m_log;
    QSet<QString> m_toHold;
    QHash<QString, Core::Promise<void>> m_held;
    QHash<QString, Core::Error> m_failures;
    bool m_cancellableSave = true;
};

class Driver final : public Vmm::VmmDriver {
public:
    explicit Driver(QString agentSocket = {})
        : m_agentSocket(std::move(agentSocket))
    {
    }
    Vmm::DriverKind kind() const override { return Vmm::DriverKind::Qemu; }
    QString name() const override { return QStringLiteral("fake"); }
    Core::Result checkAvailable() const override { return {}; }
    std::unique_ptr<Vmm::VmmInstance> createInstance(const Vmm::VmSpec &spec) const override
    {
        auto i = std::make_unique<Instance>(spec, m_agentSocket);
        m_last = i.get();
        if (m_setup)
            m_setup(i.get());
        return i;
    }
    Instance *last() const { return m_last; }
    // Applied to every instance made from now on (hold or fail its calls).
    void setInstanceSetup(std::function<void(Instance *)> setup) { m_setup = std::move(setup); }

private:
    QString m_agentSocket;
    mutable QPointer<Instance> m_last;
    std::function<void(Instance *)> m_setup;
};

} // namespace FakeVmm
