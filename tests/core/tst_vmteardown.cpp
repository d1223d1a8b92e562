// A VM torn down from inside the callbacks its own teardown fires: the VMM
// dying while the agent connection is pending, a kill while booting, and a
// running VM's VMM dying while a caller of a failing agent call stops it.
// Each must end in one final state with the first cause kept.
//
// The VMM is a test double (FakeVmmInstance: no process runs; the test says
// when it "dies"); the guest agent is the real microvm-agent, on the host, on
// a Unix socket; the image is the real minimal template's (cached).

#include "e2efixture.h"

#include "tests/hostagent.h"
#include "core/agent/agentclient.h"
#include "core/vm/virtualmachine.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"

#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using Vm::VirtualMachine;
using namespace E2e;

namespace {

// A test double of a VMM: starts at once, never runs anything.
class FakeVmmInstance final : public Vmm::VmmInstance {
public:
    FakeVmmInstance(Vmm::VmSpec spec, QString agentSocket) : m_spec(std::move(spec)), m_agentSocket(std::move(agentSocket)) {}

    QString driverName() const override { return QStringLiteral("fake"); }
    const Vmm::VmSpec &spec() const override { return m_spec; }
    State state() const override { return m_state; }
    qint64 pid() const override { return 0; }
    Core::Future<void> start() override { return to(State::Running); }
    Core::Future<void> pause() override { return to(State::Paused); }
    Core::Future<void> resume() override { return to(State::Running); }
    Core::Future<void> shutdown() override { return to(State::Stopped); }
    void kill() override { m_state = State::Stopped; }
    Core::Future<void> saveState(const QString &) override { return unsupported(); }
    Core::Future<void> startFromState(const QString &, const QString &) override { return unsupported(); }
    QStringList stateFiles() const override { return {}; }
    Vmm::AgentEndpoint agentEndpoint() const override { return {m_agentSocket, 0}; }
    bool accelerated() const override { return false; }

    // The "VMM" ends on its own, as a crashed QEMU would.
    void die(const QString &why)
    {
        m_state = State::Failed;
        Q_EMIT exitedUnexpectedly(Core::Error(Core::ErrorCode::VmmFailed, why));
    }

private:
    Core::Future<void> to(State s)
    {
        m_state = s;
        Q_EMIT stateChanged(s);
        return Core::readyFuture();
    }
    static Core::Future<void> unsupported()
    {
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the fake VMM saves nothing")));
    }

    Vmm::VmSpec m_spec;
    QString m_agentSocket;
    State m_state = State::NotStarted;
};

class FakeVmmDriver final : public Vmm::VmmDriver {
public:
    explicit FakeVmmDriver(QString agentSocket) : m_agentSocket(std::move(agentSocket)) {}
    Vmm::DriverKind kind() const override { return Vmm::DriverKind::Qemu; }
    QString name() const override { return QStringLiteral("fake"); }
    Core::Result checkAvailable() const override { return {}; }
    std::unique_ptr<Vmm::VmmInstance> createInstance(const Vmm::VmSpec &spec) const override
    {
        auto i = std::make_unique<FakeVmmInstance>(spec, m_agentSocket);
        m_last = i.get();
        return i;
    }
    FakeVmmInstance *last() const { return m_last; }

private:
    QString m_agentSocket;
    mutable QPointer<FakeVmmInstance> m_last;
};

QStringList statesOf(const QSignalSpy &spy)
{
    QStringList out;
    for (const auto &args : spy)
        out << Vm::stateName(args.at(0).value<VirtualMachine::State>());
    return out;
}

} // namespace

class TestVmTeardown : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_dir.isValid());
        qputenv("MVS_RUNTIME_DIR", m_dir.filePath(QStringLiteral("run")).toUtf8());
        qputenv("MVS_DATA_DIR", m_dir.filePath(QStringLiteral("data")).toUtf8());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        QVERIFY(HostAgent::start(m_agent, m_agentSocket));
    }
    void cleanupTestCase()
    {
        HostAgent::stop(m_agent);
    }

    // The VMM dies while the agent connection is still being tried: closing
    // that connection fails it, and its callback must not replace the cause.
    void vmmDeathWhileConnectingKeepsItsCause()
    {
        FakeVmmDriver driver(m_dir.filePath(QStringLiteral("nobody-listens.sock")));
        VirtualMachine vm(QStringLiteral("dies-booting"), minimalTemplate(), driver);
        QSignalSpy states(&vm, &VirtualMachine::stateChanged);
        auto started = vm.start();
        QTRY_VERIFY_WITH_TIMEOUT(driver.last() != nullptr && vm.state() == VirtualMachine::State::Booting, 300000);
        QTest::qWait(200); // the agent client is retrying now
        driver.last()->die(QStringLiteral("QEMU exited with code 1"));
        QVERIFY(started.isFinished());
        QVERIFY(!started.result());
        QCOMPARE(started.result().error().message, QStringLiteral("QEMU exited with code 1"));
        QCOMPARE(vm.lastError().message, QStringLiteral("QEMU exited with code 1"));
        QCOMPARE(vm.state(), VirtualMachine::State::Failed);
        QCOMPARE(statesOf(states).count(QStringLiteral("failed")), 1);
        QCOMPARE(statesOf(states).last(), QStringLiteral("failed"));
    }

    // A kill while booting is a stop, not a failure.
    void killWhileBootingStops()
    {
        FakeVmmDriver driver(m_dir.filePath(QStringLiteral("nobody-listens.sock")));
        VirtualMachine vm(QStringLiteral("killed-booting"), minimalTemplate(), driver);
        QSignalSpy states(&vm, &VirtualMachine::stateChanged);
        auto started = vm.start();
        QTRY_VERIFY_WITH_TIMEOUT(vm.state() == VirtualMachine::State::Booting, 300000);
        vm.kill();
        QCOMPARE(vm.state(), VirtualMachine::State::Stopped);
        QVERIFY(started.isFinished());
        QCOMPARE(started.result().error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(vm.lastError().code, Core::ErrorCode::Cancelled);
        QVERIFY2(!statesOf(states).contains(QStringLiteral("failed")), qPrintable(statesOf(states).join(QLatin1Char(' '))));
    }

    // A running VM's VMM dies while a command runs; the command's caller
    // stops the VM from its error callback (as `run` does). The VM fails
    // once and stays failed.
    void vmmDeathWithACallerThatStopsFailsOnce()
    {
        FakeVmmDriver driver(m_agentSocket);
        VirtualMachine vm(QStringLiteral("dies-running"), minimalTemplate(), driver);
        auto started = vm.start();
        QTRY_VERIFY_WITH_TIMEOUT(started.isFinished(), 300000);
        QVERIFY2(started.result(), qPrintable(started.result().error().message));
        QCOMPARE(vm.state(), VirtualMachine::State::Ready);

        QSignalSpy states(&vm, &VirtualMachine::stateChanged);
        QSignalSpy failed(&vm, &VirtualMachine::failed);
        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("sleep"), QStringLiteral("30")};
        bool stopCalled = false;
        Core::whenDone(vm.agent()->run(req), &vm, [&](const Core::Expected<Agent::ExecResult> &r) {
            QVERIFY(!r);
            stopCalled = true;
            vm.stop();
        });
        QTest::qWait(300);
        driver.last()->die(QStringLiteral("QEMU was killed by a signal"));
        QVERIFY(stopCalled);
        QCOMPARE(vm.state(), VirtualMachine::State::Failed);
        QCOMPARE(failed.count(), 1);
        QCOMPARE(vm.lastError().message, QStringLiteral("QEMU was killed by a signal"));
        QCOMPARE(statesOf(states), QStringList{QStringLiteral("failed")});
    }
};

QTEST_GUILESS_MAIN(TestVmTeardown)
#include "tst_vmteardown.moc"
