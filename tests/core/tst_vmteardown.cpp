// A VM torn down from inside the callbacks its own teardown fires: the VMM
// dying while the agent connection is pending, a kill while booting, and a
// running VM's VMM dying while a caller of a failing agent call stops it.
// Each must end in one final state with the first cause kept.
//
// The VMM is a test double (tests/fakevmm.h: no process runs; the test says
// when it "dies"); the guest agent is the real microvm-agent, on the host, on
// a Unix socket; the image is the real minimal template's (cached).

#include "e2efixture.h"

#include "tests/fakevmm.h"
#include "tests/hostagent.h"
#include "core/agent/agentclient.h"
#include "core/vm/virtualmachine.h"

#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using Vm::VirtualMachine;
using namespace E2e;

namespace {

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
    void cleanupTestCase() { HostAgent::stop(m_agent); }

    // The VMM dies while the agent connection is still being tried: closing
    // that connection fails it, and its callback must not replace the cause.
    void vmmDeathWhileConnectingKeepsItsCause()
    {
        FakeVmm::Driver driver(m_dir.filePath(QStringLiteral("nobody-listens.sock")));
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
        FakeVmm::Driver driver(m_dir.filePath(QStringLiteral("nobody-listens.sock")));
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
        FakeVmm::Driver driver(m_agentSocket);
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
