// A VMM that dies: SIGKILL the VMM during an exec. The caller gets an error
// within 2 seconds and nothing is left behind: no child process, no socket,
// no runtime directory.

#include "e2efixture.h"

#include "core/agent/agentclient.h"

#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QPointer>
#include <QSignalSpy>

#include <csignal>
#include <unistd.h>

using namespace E2e;

namespace {

// Processes whose parent is this test process.
QList<int> childProcesses()
{
    return childProcessesOf(::getpid());
}

QStringList socketsUnder(const QString &dir)
{
    QStringList out;
    QDirIterator it(dir, QDir::System | QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString f = it.next();
        if (QFileInfo(f).suffix() == QLatin1String("sock"))
            out << f;
    }
    return out;
}

} // namespace

class TestVmmKill : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }

    void killVmmDuringExec_data() { addDriverRows(); }
    void killVmmDuringExec()
    {
        E2E_DRIVER_OR_SKIP(driver);

        Vm::VirtualMachine vm(QStringLiteral("killme"), minimalTemplate(), driver);
        vm.setReadyTimeoutMs(kBootTimeoutMs);
        E2E_VERIFY_OK(await(vm.start(), kBootTimeoutMs + 300000));
        const QString runtimeDir = vm.runtimeDir();
        QVERIFY(QDir(runtimeDir).exists());
        QVERIFY(!socketsUnder(runtimeDir).isEmpty());
        const qint64 vmmPid = vm.instance()->pid();
        QVERIFY(vmmPid > 0);
        QVERIFY(childProcesses().contains(int(vmmPid)));

        QSignalSpy failed(&vm, &Vm::VirtualMachine::failed);
        Agent::ExecRequest req;
        req.shell = QStringLiteral("echo running; sleep 600");
        // The handle belongs to the agent client, which goes with the dead VM.
        QPointer<Agent::ExecHandle> h = vm.agent()->exec(req);
        QSignalSpy out(h, &Agent::ExecHandle::stdoutReceived);
        QTRY_VERIFY_WITH_TIMEOUT(!out.isEmpty(), 30000); // the command is really running

        QElapsedTimer t;
        t.start();
        QCOMPARE(::kill(pid_t(vmmPid), SIGKILL), 0);
        auto r = await(h->result(), 10000);
        const qint64 errorAfterMs = t.elapsed();
        QVERIFY2(!r, "the exec should fail when its VMM dies");
        QVERIFY2(r.error().code != Core::ErrorCode::Timeout, qPrintable(r.error().toString()));
        qInfo("exec failed %lld ms after SIGKILL: %s", errorAfterMs, qPrintable(r.error().toString()));
        QVERIFY2(errorAfterMs < 2000, qPrintable(QStringLiteral("error took %1 ms").arg(errorAfterMs)));

        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
        QCOMPARE(vm.state(), Vm::VirtualMachine::State::Failed);
        QCOMPARE(vm.lastError().code, Core::ErrorCode::VmmFailed);
        // Nothing left: the VMM reaped, no children, no sockets, no runtime dir.
        QTRY_VERIFY_WITH_TIMEOUT(childProcesses().isEmpty(), 5000);
        QVERIFY(!QFile::exists(QStringLiteral("/proc/%1").arg(vmmPid)) || QFile(QStringLiteral("/proc/%1/stat").arg(vmmPid)).size() == 0);
        QVERIFY2(!QDir(runtimeDir).exists(), qPrintable(runtimeDir));
        QVERIFY(socketsUnder(runtimeDir).isEmpty());

        // Operations on the dead VM fail at once with a clear error.
        auto again = await(
            vm.agent() ? vm.agent()->health() : Core::readyFuture<Agent::Health>(Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("gone"))), 2000);
        QVERIFY(!again);
        QTRY_VERIFY_WITH_TIMEOUT(h.isNull(), 5000);
    }

    void missingVmmBinaryIsAClearError()
    {
        Vmm::DriverOptions o;
        o.kind = Vmm::DriverKind::Qemu;
        o.qemuBinary = QStringLiteral("/nonexistent/qemu-system-x86_64");
        auto d = Vmm::createDriver(o);
        QVERIFY(!d);
        QCOMPARE(d.error().code, Core::ErrorCode::BinaryMissing);
        QVERIFY2(d.error().message.contains(QLatin1String("apt-get install qemu-system-x86")), qPrintable(d.error().message));

        o.kind = Vmm::DriverKind::CloudHypervisor;
        o.chBinary = QStringLiteral("/nonexistent/cloud-hypervisor");
        auto ch = Vmm::createDriver(o);
        QVERIFY(!ch);
        QVERIFY(ch.error().code == Core::ErrorCode::BinaryMissing || ch.error().code == Core::ErrorCode::KvmUnavailable);
        QVERIFY2(!ch.error().message.contains(QLatin1Char('\n')), "one line");
    }
};

QTEST_GUILESS_MAIN(TestVmmKill)
#include "tst_vmmkill.moc"
