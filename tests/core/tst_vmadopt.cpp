// Leaving VMs running past their manager and adopting them again (QEMU
// driver, real minimal guests): a detachable VmManager starts a VM, a command
// writes a marker in the guest, detachAll() lets go of it and the manager is
// destroyed; QEMU still runs. A new manager on the same state directory
// adopts it (same pid, same guest: the marker and the boot id are still
// there, the serial console log continues); left running again while paused
// it is adopted paused and its agent connects on resume; stopping it ends the process
// and removes its runtime directory. A record whose VMM is gone, or whose pid
// now belongs to another process, is not adopted: the VM is Stopped, the
// record's running_vmm is cleared and the leftover runtime directory removed;
// one that another live manager runs is left alone.
// A detachable manager destroyed without detachAll() stops its VMs.

#include "e2efixture.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/qemudriver.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <csignal>
#include <unistd.h>

using namespace E2e;
using State = Vm::VirtualMachine::State;

namespace {

constexpr int kStartTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr int kAdoptTimeoutMs = 60000;
constexpr int kExecTimeoutMs = 30000;

QJsonObject readRecord(const QString &stateDir, const QString &name)
{
    QFile f(QDir(stateDir).filePath(name + QStringLiteral(".json")));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

bool writeRecord(const QString &stateDir, const QString &name, const QJsonObject &o)
{
    QFile f(QDir(stateDir).filePath(name + QStringLiteral(".json")));
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(QJsonDocument(o).toJson()) > 0;
}

bool alive(qint64 pid)
{
    return Vmm::processStartTime(pid).has_value(); // a zombie counts as gone
}

Core::Expected<Agent::ExecResult> runIn(Vm::VmManager &m, const QString &vm, const QString &shell)
{
    return runInVm(m, vm, shell, kExecTimeoutMs);
}

} // namespace

class TestVmAdopt : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    QList<qint64> m_vmmPids; // killed in cleanup(), so a failing test leaks no QEMU

    void killLeftovers()
    {
        for (qint64 pid : std::as_const(m_vmmPids)) {
            if (alive(pid))
                ::kill(static_cast<pid_t>(pid), SIGKILL);
        }
        m_vmmPids.clear();
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_RUNTIME_DIR", m_home.filePath(QStringLiteral("run")).toUtf8());
        // A new runtime directory has no KVM boot verdict: the first VM below
        // takes the first-run path (the probe), as on a fresh machine.
        QVERIFY(!QDir(Vmm::kvmProbeDir()).exists());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
    }
    void cleanup() { killLeftovers(); }
    void cleanupTestCase() { killLeftovers(); }

    void leftRunningIsAdoptedAgain()
    {
        const QString stateDir = m_home.filePath(QStringLiteral("state-adopt"));
        const QString name = QStringLiteral("adopted");
        qint64 pid = 0;
        QString runtimeDir;
        QByteArray bootId;
        {
            Vm::VmManager m(*m_driver, stateDir);
            m.setDetachable(true);
            E2E_VERIFY_OK(m.create({name, QStringLiteral("minimal"), {}, {}}));
            E2E_VERIFY_OK(await(m.start(name), kStartTimeoutMs));
            pid = m.vm(name)->instance()->pid();
            QVERIFY(pid > 0);
            m_vmmPids << pid;
            runtimeDir = m.vm(name)->runtimeDir();
            QVERIFY(QDir(runtimeDir).exists());
            // Recorded while it runs, so that even a crashed manager's VM is
            // found again.
            QCOMPARE(readRecord(stateDir, name).value(QStringLiteral("running_vmm"))[QStringLiteral("pid")].toInteger(), pid);
            QCOMPARE(readRecord(stateDir, name).value(QStringLiteral("running_vmm"))[QStringLiteral("manager_pid")].toInteger(), qint64(::getpid()));
            // Not our child: it has its own session and no parent-death signal.
            QVERIFY(::getsid(static_cast<pid_t>(pid)) != ::getsid(0));

            auto wrote = runIn(m, name, QStringLiteral("echo adopt-marker-$$ > /run/adopt-marker && cat /run/adopt-marker /proc/sys/kernel/random/boot_id"));
            E2E_VERIFY_OK(wrote);
            QCOMPARE(wrote->exitCode, 0);
            const QList<QByteArray> lines = wrote->stdoutData.trimmed().split('\n');
            QCOMPARE(lines.size(), 2);
            QVERIFY(lines.at(0).startsWith("adopt-marker-"));
            bootId = lines.at(1);

            QCOMPARE(m.detachAll(), QStringList{name});
            QCOMPARE(m.info(name)->state, State::Stopped);
            const QJsonObject running = readRecord(stateDir, name).value(QStringLiteral("running_vmm")).toObject();
            QCOMPARE(running.value(QStringLiteral("pid")).toInteger(), pid);
            QCOMPARE(running.value(QStringLiteral("manager_pid")).toInteger(), 0); // left running: nobody manages it
            QCOMPARE(running.value(QStringLiteral("runtime_dir")).toString(), runtimeDir);
            QCOMPARE(running.value(QStringLiteral("pid_start_time")).toString().toULongLong(), *Vmm::processStartTime(pid));
            QVERIFY(!running.value(QStringLiteral("qmp_socket")).toString().isEmpty());
            QVERIFY(!running.value(QStringLiteral("agent_socket")).toString().isEmpty());
            QVERIFY(!running.value(QStringLiteral("accel")).toString().isEmpty());
        }
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QTest::qWait(500);
        QVERIFY2(alive(pid), "QEMU must outlive the manager that left it running");
        QVERIFY(QDir(runtimeDir).exists());

        QByteArray marker;
        {
            Vm::VmManager m(*m_driver, stateDir);
            m.setDetachable(true);
            QVERIFY(m.info(name)->state == State::Booting || m.info(name)->state == State::Ready);
            QTRY_COMPARE_WITH_TIMEOUT(m.info(name)->state, State::Ready, kAdoptTimeoutMs);
            QCOMPARE(m.vm(name)->instance()->pid(), pid);
            QCOMPARE(m.vm(name)->runtimeDir(), runtimeDir);
            QVERIFY(!m.info(name)->record.lastError);

            // The same guest, not a reboot: the marker in its tmpfs and its boot id.
            auto read = runIn(m, name, QStringLiteral("cat /run/adopt-marker /proc/sys/kernel/random/boot_id"));
            E2E_VERIFY_OK(read);
            QCOMPARE(read->exitCode, 0);
            const QList<QByteArray> lines = read->stdoutData.trimmed().split('\n');
            QCOMPARE(lines.size(), 2);
            QVERIFY(lines.at(0).startsWith("adopt-marker-"));
            QCOMPARE(lines.at(1), bootId);
            marker = lines.at(0);

            // The serial console log goes on in the same file.
            auto echoed = runIn(m, name, QStringLiteral("echo adopt-console-check > /dev/ttyS0"));
            E2E_VERIFY_OK(echoed);
            QTRY_VERIFY_WITH_TIMEOUT(m.consoleLog(name, 64 * 1024)->contains("adopt-console-check"), 10000);

            // Left running again, paused this time.
            E2E_VERIFY_OK(await(m.pause(name), 10000));
            QCOMPARE(m.detachAll(), QStringList{name});
        }
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QVERIFY(alive(pid));

        // A paused VM is adopted paused; its agent connects once resumed.
        Vm::VmManager m(*m_driver, stateDir);
        QTRY_COMPARE_WITH_TIMEOUT(m.info(name)->state, State::Paused, kAdoptTimeoutMs);
        QCOMPARE(m.vm(name)->instance()->pid(), pid);
        E2E_VERIFY_OK(await(m.resume(name), 10000));
        QCOMPARE(m.info(name)->state, State::Ready);
        QTRY_VERIFY_WITH_TIMEOUT(m.agent(name).hasValue(), kAdoptTimeoutMs);
        auto again = runIn(m, name, QStringLiteral("cat /run/adopt-marker"));
        E2E_VERIFY_OK(again);
        QCOMPARE(again->stdoutData.trimmed(), marker);

        E2E_VERIFY_OK(await(m.stop(name), 30000));
        QCOMPARE(m.info(name)->state, State::Stopped);
        QTRY_VERIFY_WITH_TIMEOUT(!alive(pid), 10000);
        QVERIFY2(!QDir(runtimeDir).exists(), qPrintable(runtimeDir));
        QVERIFY(!readRecord(stateDir, name).contains(QStringLiteral("running_vmm")));
    }

    void destroyedManagerStopsItsVms()
    {
        // A detachable manager destroyed without detachAll() (the GUI's "Stop
        // VMs and quit") still stops its VMs, and their records say nothing
        // runs.
        const QString stateDir = m_home.filePath(QStringLiteral("state-stop"));
        const QString name = QStringLiteral("stopped");
        qint64 pid = 0;
        QString runtimeDir;
        {
            Vm::VmManager m(*m_driver, stateDir);
            m.setDetachable(true);
            E2E_VERIFY_OK(m.create({name, QStringLiteral("minimal"), {}, {}}));
            E2E_VERIFY_OK(await(m.start(name), kStartTimeoutMs));
            pid = m.vm(name)->instance()->pid();
            m_vmmPids << pid;
            runtimeDir = m.vm(name)->runtimeDir();
            QVERIFY(readRecord(stateDir, name).contains(QStringLiteral("running_vmm")));
        }
        QVERIFY(!alive(pid));
        QVERIFY2(!QDir(runtimeDir).exists(), qPrintable(runtimeDir));
        QVERIFY(!readRecord(stateDir, name).contains(QStringLiteral("running_vmm")));
        Vm::VmManager m(*m_driver, stateDir);
        QCOMPARE(m.info(name)->state, State::Stopped);
    }

    void staleRecordIsNotAdopted_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("pid gone") << QStringLiteral("gone");
        QTest::newRow("pid reused") << QStringLiteral("reused");
        QTest::newRow("another process") << QStringLiteral("other");
        QTest::newRow("managed by another live manager") << QStringLiteral("managed");
    }
    void staleRecordIsNotAdopted()
    {
        QFETCH(QString, kind);
        const QString stateDir = m_home.filePath(QStringLiteral("state-stale-") + kind);
        const QString name = QStringLiteral("stale");
        {
            Vm::VmManager m(*m_driver, stateDir);
            E2E_VERIFY_OK(m.create({name, QStringLiteral("minimal"), {}, {}}));
        }
        qint64 pid = 0;
        quint64 startTime = 0;
        if (kind == QLatin1String("gone")) {
            QProcess p;
            p.start(QStringLiteral("true"));
            QVERIFY(p.waitForStarted());
            pid = p.processId();
            QVERIFY(p.waitForFinished());
            startTime = 12345;
            QVERIFY(!alive(pid));
        } else if (kind == QLatin1String("managed")) {
            pid = ::getpid(); // never even looked at: it is not this manager's
            startTime = *Vmm::processStartTime(pid);
        } else {
            // This test process: alive, but with another start time (a pid
            // reused since), or the right one but not a VMM of this guest.
            pid = ::getpid();
            startTime = *Vmm::processStartTime(pid) + (kind == QLatin1String("reused") ? 1 : 0);
        }
        const QString leftover = QDir(qEnvironmentVariable("MVS_RUNTIME_DIR")).filePath(name + QStringLiteral("-Ab1234"));
        QVERIFY(QDir().mkpath(leftover));
        QFile junk(QDir(leftover).filePath(QStringLiteral("vmm.log")));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.close();

        QJsonObject record = readRecord(stateDir, name);
        record[QStringLiteral("desired_state")] = QStringLiteral("running");
        record[QStringLiteral("last_started_at")] = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
        Vmm::DetachedVmm d;
        d.driver = QStringLiteral("qemu");
        d.pid = pid;
        d.startTime = startTime;
        d.runtimeDir = leftover;
        d.apiSocket = QDir(leftover).filePath(QStringLiteral("qmp.sock"));
        d.agentSocket = QDir(leftover).filePath(QStringLiteral("agent.sock"));
        d.accel = QStringLiteral("tcg");
        QProcess otherManager; // a live process that manages the VMM
        if (kind == QLatin1String("managed")) {
            otherManager.start(QStringLiteral("sleep"), {QStringLiteral("60")});
            QVERIFY(otherManager.waitForStarted());
            d.managerPid = otherManager.processId();
            d.managerStartTime = *Vmm::processStartTime(d.managerPid);
        }
        record[QStringLiteral("running_vmm")] = d.toJson();
        QVERIFY(writeRecord(stateDir, name, record));

        Vm::VmManager m(*m_driver, stateDir);
        QVERIFY(m.loadWarnings().isEmpty());
        QCOMPARE(m.info(name)->state, State::Stopped);
        if (kind == QLatin1String("managed")) {
            // Left alone: the record and the runtime directory are the other manager's.
            QVERIFY(!m.vm(name));
            QCOMPARE(readRecord(stateDir, name).value(QStringLiteral("running_vmm"))[QStringLiteral("manager_pid")].toInteger(), d.managerPid);
            QVERIFY(QDir(leftover).exists());
            otherManager.kill();
            otherManager.waitForFinished();
            QVERIFY(QDir(leftover).removeRecursively());
            return;
        }
        QVERIFY(!m.info(name)->record.runningVmm);
        QCOMPARE(m.info(name)->record.desired, Vm::VmRecord::Desired::Running); // kept, as for any stopped VM
        QVERIFY(!readRecord(stateDir, name).contains(QStringLiteral("running_vmm")));
        QVERIFY2(!QDir(leftover).exists(), qPrintable(leftover));
        QTest::qWait(200);
        QCOMPARE(m.info(name)->state, State::Stopped); // nothing under way
        QVERIFY(alive(::getpid()));
    }

    // A VM restored from a snapshot runs on a new VMM: that one is recorded,
    // left running and adopted again, with the restored state.
    void restoredVmIsAdoptedAgain()
    {
        const QString stateDir = m_home.filePath(QStringLiteral("state-restored"));
        const QString name = QStringLiteral("restored");
        qint64 pid = 0;
        {
            Vm::VmManager m(*m_driver, stateDir);
            m.setDetachable(true);
            E2E_VERIFY_OK(m.create({name, QStringLiteral("minimal"), {}, {}}));
            E2E_VERIFY_OK(await(m.start(name), kStartTimeoutMs));
            m_vmmPids << m.vm(name)->instance()->pid();
            E2E_VERIFY_OK(runIn(m, name, QStringLiteral("echo saved > /run/v")));
            E2E_VERIFY_OK(await(m.snapshot(name, {QStringLiteral("s"), false}), 240000));
            E2E_VERIFY_OK(runIn(m, name, QStringLiteral("echo later > /run/v")));
            E2E_VERIFY_OK(await(m.restore(name, QStringLiteral("s")), 240000));
            pid = m.vm(name)->instance()->pid();
            m_vmmPids << pid;
            QCOMPARE(readRecord(stateDir, name).value(QStringLiteral("running_vmm"))[QStringLiteral("pid")].toInteger(), pid);
            QCOMPARE(m.detachAll(), QStringList{name});
        }
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QVERIFY2(alive(pid), "the restored VM's QEMU must outlive the manager that left it running");
        Vm::VmManager m(*m_driver, stateDir);
        m.setDetachable(true);
        QTRY_COMPARE_WITH_TIMEOUT(m.info(name)->state, State::Ready, kAdoptTimeoutMs);
        QCOMPARE(m.vm(name)->instance()->pid(), pid);
        auto read = runIn(m, name, QStringLiteral("cat /run/v"));
        E2E_VERIFY_OK(read);
        QCOMPARE(read->stdoutData.trimmed(), QByteArray("saved"));
        E2E_VERIFY_OK(await(m.stop(name), 60000));
    }

    void oldRecordsStillLoad()
    {
        // A record written before running_vmm existed (and a malformed one)
        // loads as before.
        const QString stateDir = m_home.filePath(QStringLiteral("state-old"));
        {
            Vm::VmManager m(*m_driver, stateDir);
            E2E_VERIFY_OK(m.create({QStringLiteral("old"), QStringLiteral("minimal"), {}, {}}));
        }
        QJsonObject record = readRecord(stateDir, QStringLiteral("old"));
        QVERIFY(!record.contains(QStringLiteral("running_vmm")));
        record[QStringLiteral("running_vmm")] = QJsonObject{{QStringLiteral("pid"), QStringLiteral("nonsense")}};
        QVERIFY(writeRecord(stateDir, QStringLiteral("old"), record));
        Vm::VmManager m(*m_driver, stateDir);
        QVERIFY(m.loadWarnings().isEmpty());
        QCOMPARE(m.info(QStringLiteral("old"))->state, State::Created);
        QVERIFY(!m.info(QStringLiteral("old"))->record.runningVmm);
    }
};

QTEST_GUILESS_MAIN(TestVmAdopt)
#include "tst_vmadopt.moc"
