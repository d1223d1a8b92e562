// VmManager's lifecycle and snapshot operations over the VMM test double
// (tests/fakevmm.h: no QEMU runs) and the real agent on the host (its
// commands that would change this machine, the clock and the host name,
// are stubs): start, pause, resume, restart, stop and remove with the
// record following; a snapshot taken, restored from and then deleted (it
// is not held once the restore is done); a fork of two, each its own VM,
// named in its "guest", the snapshot free again afterwards; a fork whose
// VMM fails leaves nothing behind; a restore or fork whose guest fails or
// hangs on the commands after it (the clock, the host name) fails, the VM
// failed or no fork left, the snapshot kept and free; a VMM that dies while
// a snapshot is written fails it with its error and leaves nothing of it.
// Quotas: a create over the VM count, a VM too large to run at all, a
// start over the memory of the running VMs and a fork over the count are
// refused with QuotaExceeded and leave nothing (no record, no VMM); a
// stopped VM's share is free again.

#include "e2efixture.h"

#include "tests/fakevmm.h"
#include "tests/hostagent.h"
#include "core/agent/streamlimits.h"
#include "core/vm/bootjob.h"
#include "core/vm/vmmanager.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QProcess>
#include <QScopeGuard>
#include <QSet>
#include <QTemporaryDir>
#include <QFileInfo>
#include <QTest>

using namespace E2e;
using State = Vm::VirtualMachine::State;

namespace {

constexpr int kOpTimeoutMs = 300000; // the first start may build the minimal image
// A guest step after a restore or fork that hangs ends by the host's
// deadline for it, well within this.
constexpr int kGuestStepBoundMs = Vm::BootJob::kClockSyncTimeoutMs + Agent::StreamLimits::kInternalGraceMs + 10000;

} // namespace

class TestVmManagerStates : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;
    QString m_stubs;
    int m_round = 0;

    QString stateDir() { return m_dir.filePath(QStringLiteral("state-%1").arg(m_round)); }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_dir.isValid());
        qputenv("MVS_RUNTIME_DIR", m_dir.filePath(QStringLiteral("run")).toUtf8());
        qputenv("MVS_DATA_DIR", m_dir.filePath(QStringLiteral("data")).toUtf8());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        m_stubs = m_dir.filePath(QStringLiteral("stubs"));
        QVERIFY(QDir().mkpath(m_stubs));
        QVERIFY(HostAgent::startWithStubs(m_agent, m_agentSocket, m_stubs));
    }
    void cleanupTestCase() { HostAgent::stop(m_agent); }
    void init() { ++m_round; }

    void lifecycleFollowsTheRecord()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready);
        QCOMPARE(manager.info(QStringLiteral("box"))->record.desired, Vm::VmRecord::Desired::Running);
        QVERIFY(manager.info(QStringLiteral("box"))->record.lastStartedAt.isValid());
        QVERIFY(manager.agent(QStringLiteral("box")).hasValue());

        E2E_VERIFY_OK(await(manager.pause(QStringLiteral("box")), 10000));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Paused);
        QCOMPARE(manager.info(QStringLiteral("box"))->record.desired, Vm::VmRecord::Desired::Paused);
        QCOMPARE(manager.agent(QStringLiteral("box")).error().code, Core::ErrorCode::InvalidState);
        E2E_VERIFY_OK(await(manager.resume(QStringLiteral("box")), 10000));
        QCOMPARE(manager.info(QStringLiteral("box"))->record.desired, Vm::VmRecord::Desired::Running);

        FakeVmm::Instance *first = driver.last();
        E2E_VERIFY_OK(await(manager.restart(QStringLiteral("box")), kOpTimeoutMs));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready);
        QVERIFY(driver.last() != first); // a new VMM

        E2E_VERIFY_OK(await(manager.stop(QStringLiteral("box")), 10000));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Stopped);
        QCOMPARE(manager.info(QStringLiteral("box"))->record.desired, Vm::VmRecord::Desired::Stopped);
        E2E_VERIFY_OK(await(manager.remove(QStringLiteral("box")), 10000));
        QVERIFY(!manager.contains(QStringLiteral("box")));
        QVERIFY(!QFile::exists(stateDir() + QStringLiteral("/box.json")));
    }

    void snapshotRestoreThenDelete()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        auto taken = await(manager.snapshot(QStringLiteral("box"), {QStringLiteral("s1"), false}), 30000);
        E2E_VERIFY_OK(taken);
        QCOMPARE(taken->name, QStringLiteral("s1"));
        QVERIFY(QFile::exists(QDir(taken->directory).filePath(QStringLiteral("memory.state"))));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready); // runs again
        QCOMPARE(manager.info(QStringLiteral("box"))->record.currentSnapshot, QStringLiteral("s1"));

        E2E_VERIFY_OK(await(manager.restore(QStringLiteral("box"), QStringLiteral("s1")), 30000));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready);
        QCOMPARE(driver.last()->log(), QStringList{QStringLiteral("load")});
        // The restore is done: the snapshot is not held.
        E2E_VERIFY_OK(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("s1")));
        QVERIFY(manager.snapshots(QStringLiteral("box"))->isEmpty());
    }

    // An owner's own limits hold its VMs at start (and fork) beside the
    // host's; another owner's VMs do not count against it.
    void ownerQuotasBoundTheirStarts()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        manager.setOwnerQuota([](const QString &owner) {
            Vm::QuotaLimits l;
            if (owner == QLatin1String("t1")) {
                l.maxVcpus = 1;
                l.maxVms = 3;
            }
            return l;
        });
        const auto make = [&](const QString &name, const QString &owner) {
            Vm::VmManager::CreateOptions o{name, QStringLiteral("minimal"), 1, 256};
            o.owner = owner;
            return manager.create(o);
        };
        E2E_VERIFY_OK(make(QStringLiteral("a"), QStringLiteral("t1")));
        E2E_VERIFY_OK(make(QStringLiteral("b"), QStringLiteral("t1")));
        E2E_VERIFY_OK(make(QStringLiteral("other"), QStringLiteral("t2")));
        QCOMPARE(manager.info(QStringLiteral("a"))->record.owner, QStringLiteral("t1"));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("other")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("a")), kOpTimeoutMs));
        auto refused = await(manager.start(QStringLiteral("b")), 10000);
        QCOMPARE(refused.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(refused.error().message, QStringLiteral("quota exceeded: token t1: vcpus: 1 in use + 1 asked > 1 allowed (over by 1)"));
        QCOMPARE(manager.quotaUsage(QString(), false, QStringLiteral("t1")), (Vm::QuotaUsage{2, 1, 256, 0}));

        // Its forks are its own: the count holds them too.
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("a"), {QStringLiteral("s"), false}), 30000));
        Vm::ForkOptions fork;
        fork.count = 2;
        fork.owner = QStringLiteral("t1");
        auto forks = await(manager.fork(QStringLiteral("a"), QStringLiteral("s"), fork), 30000);
        QCOMPARE(forks.error().code, Core::ErrorCode::QuotaExceeded);
        QVERIFY2(forks.error().message.startsWith(QStringLiteral("quota exceeded: token t1: ")), qPrintable(forks.error().message));
        QCOMPARE(manager.names().size(), 3);
        // The owner is in the record.
        QFile record(stateDir() + QStringLiteral("/b.json"));
        QVERIFY(record.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(record.readAll()).object().value(QStringLiteral("owner")).toString(), QStringLiteral("t1"));
    }

    void quotasBoundCreatesStartsAndForks()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        Vm::QuotaLimits limits;
        limits.maxVms = 3;
        limits.maxMemoryMiB = 600;
        manager.setQuota(limits);
        const auto make = [&](const QString &name, int memoryMiB) { return manager.create({name, QStringLiteral("minimal"), 1, memoryMiB}); };
        // Too large to run even alone: not made.
        auto big = make(QStringLiteral("big"), 1024);
        QCOMPARE(big.error().code, Core::ErrorCode::QuotaExceeded);
        QVERIFY2(big.error().message.contains(QStringLiteral("memory: 0 MiB in use + 1024 MiB asked > 600 MiB allowed")), qPrintable(big.error().message));
        QVERIFY(!manager.contains(QStringLiteral("big")) && !QFile::exists(stateDir() + QStringLiteral("/big.json")));

        for (const QString &n : {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")})
            E2E_VERIFY_OK(make(n, 256));
        auto fourth = make(QStringLiteral("d"), 256);
        QCOMPARE(fourth.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(fourth.error().message, QStringLiteral("quota exceeded: vms: 3 in use + 1 asked > 3 allowed (over by 1)"));
        QVERIFY(!manager.contains(QStringLiteral("d")) && !QFile::exists(stateDir() + QStringLiteral("/d.json")));

        E2E_VERIFY_OK(await(manager.start(QStringLiteral("a")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("b")), kOpTimeoutMs));
        QCOMPARE(manager.quotaUsage().memoryMiB, qint64(512));
        FakeVmm::Instance *lastVmm = driver.last();
        auto refused = await(manager.start(QStringLiteral("c")), 10000);
        QCOMPARE(refused.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(refused.error().message, QStringLiteral("quota exceeded: memory: 512 MiB in use + 256 MiB asked > 600 MiB allowed (over by 168 MiB)"));
        QVERIFY(driver.last() == lastVmm); // no VMM was started for it
        QVERIFY(manager.info(QStringLiteral("c"))->state != State::Ready);

        // A fork over the count: nothing of it is left.
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("b"), {QStringLiteral("s"), false}), 30000));
        auto forks = await(manager.fork(QStringLiteral("b"), QStringLiteral("s"), {1, QString()}), 30000);
        QCOMPARE(forks.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(manager.names(), (QStringList{QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")}));

        // A stopped VM's memory is free again.
        E2E_VERIFY_OK(await(manager.stop(QStringLiteral("a")), 10000));
        QCOMPARE(manager.quotaUsage().memoryMiB, qint64(256));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("c")), kOpTimeoutMs));
        QCOMPARE(manager.info(QStringLiteral("c"))->state, State::Ready);
        QCOMPARE(manager.quotaUsage(), (Vm::QuotaUsage{3, 2, 512, 0}));
    }

    void forkTwoThenDelete()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("box"), {QStringLiteral("golden"), false}), 30000));
        const QStringList namedBefore = HostAgent::stubCalls(m_stubs, QStringLiteral("hostname"));

        auto pending = manager.fork(QStringLiteral("box"), QStringLiteral("golden"), {2, QString()});
        // Read while it forks: not deletable meanwhile.
        QCOMPARE(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("golden")).error().code, Core::ErrorCode::InvalidState);
        auto forks = await(pending, 30000);
        E2E_VERIFY_OK(forks);
        QCOMPARE(*forks, (QStringList{QStringLiteral("box-fork-1"), QStringLiteral("box-fork-2")}));
        for (const QString &f : *forks) {
            QCOMPARE(manager.info(f)->state, State::Ready);
            QCOMPARE(manager.info(f)->record.forkedFrom, QStringLiteral("box/golden"));
        }
        // Each was given its own host name, and the snapshot is free again.
        const QStringList named = HostAgent::stubCalls(m_stubs, QStringLiteral("hostname")).mid(namedBefore.size());
        QCOMPARE(QSet<QString>(named.begin(), named.end()), (QSet<QString>{QStringLiteral("box-fork-1"), QStringLiteral("box-fork-2")}));
        E2E_VERIFY_OK(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("golden")));
    }

    // One fork's VMM cannot load the state: all or nothing, no fork is left.
    void failedForkLeavesNothing()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("box"), {QStringLiteral("golden"), false}), 30000));
        driver.setInstanceSetup(
            [](FakeVmm::Instance *vmm) { vmm->failWith(QStringLiteral("load"), Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("cannot load"))); });
        auto forks = await(manager.fork(QStringLiteral("box"), QStringLiteral("golden"), {2, QStringLiteral("doomed")}), 30000);
        QVERIFY(!forks);
        QCOMPARE(forks.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(forks.error().message.startsWith(QStringLiteral("fork doomed-")), qPrintable(forks.error().message));
        QTRY_VERIFY_WITH_TIMEOUT(!manager.contains(QStringLiteral("doomed-1")) && !manager.contains(QStringLiteral("doomed-2")), 10000);
        QCOMPARE(manager.names(), QStringList{QStringLiteral("box")});
        E2E_VERIFY_OK(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("golden")));
    }

    // The VMM dies while the snapshot's state is written: the snapshot fails
    // with the VMM's error (not Cancelled), nothing of it is left, the VM
    // ends failed with that error on its record, and starts again.
    void vmmDeadDuringSnapshotLeavesNothing()
    {
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        QPointer<FakeVmm::Instance> vmm = driver.last();
        vmm->hold(QStringLiteral("save"));
        auto pending = manager.snapshot(QStringLiteral("box"), {QStringLiteral("doomed"), false});
        QTRY_VERIFY(vmm && vmm->isHolding(QStringLiteral("save")));
        vmm->die(QStringLiteral("QEMU was killed by signal 9"));
        QVERIFY(vmm); // deleted from the event loop: its save call still ends
        vmm->release(QStringLiteral("save"));
        const auto taken = await(pending, 10000);
        QVERIFY(!taken);
        QCOMPARE(taken.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(taken.error().message.contains(QLatin1String("signal 9")), qPrintable(taken.error().message));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Failed);
        QVERIFY(manager.info(QStringLiteral("box"))->record.lastError.has_value());
        QCOMPARE(manager.info(QStringLiteral("box"))->record.lastError->code, Core::ErrorCode::VmmFailed);
        QVERIFY(manager.snapshots(QStringLiteral("box"))->isEmpty());
        QCOMPARE(QDir(manager.snapshotDir(QStringLiteral("box"))).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), QStringList());
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready);
    }

    // A restored guest whose clock step fails (date exits 1) or hangs past
    // its deadline: the restore fails with why, the VM ends failed with that
    // error on its record (not wanted running), the snapshot is kept and
    // free again (deletable).
    void restoreWhoseGuestCannotMoveOnFails_data()
    {
        QTest::addColumn<QByteArray>("dateStub");
        QTest::addColumn<int>("code"); // Core::ErrorCode
        QTest::newRow("date fails") << QByteArray("echo 'date: cannot set date' >&2; exit 1") << int(Core::ErrorCode::Agent);
        QTest::newRow("date hangs") << QByteArray("exec sleep 600") << int(Core::ErrorCode::Timeout);
    }
    void restoreWhoseGuestCannotMoveOnFails()
    {
        QFETCH(QByteArray, dateStub);
        QFETCH(int, code);
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("box"), {QStringLiteral("s1"), false}), 30000));
        QVERIFY(HostAgent::writeStub(m_stubs, QStringLiteral("date"), dateStub));
        const auto restoreStubs = qScopeGuard([this] { HostAgent::writeCommandStubs(m_stubs); });

        const auto restored = await(manager.restore(QStringLiteral("box"), QStringLiteral("s1")), kGuestStepBoundMs);
        QVERIFY(!restored);
        QCOMPARE(int(restored.error().code), code);
        QVERIFY2(restored.error().message.contains(QLatin1String("clock")), qPrintable(restored.error().message));
        const auto info = manager.info(QStringLiteral("box"));
        QVERIFY(info->state == State::Failed || info->state == State::Stopped);
        QCOMPARE(info->record.desired, Vm::VmRecord::Desired::Stopped);
        QVERIFY(info->record.lastError.has_value());
        QCOMPARE(int(info->record.lastError->code), code);
        QVERIFY(!driver.last() || driver.last()->log().contains(QStringLiteral("kill"))); // its VMM is gone
        QCOMPARE(manager.snapshots(QStringLiteral("box"))->size(), 1);
        E2E_VERIFY_OK(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("s1")));
    }

    // A fork whose guest cannot take its host name or set its clock (fails
    // or hangs): the fork fails, no fork is left, the snapshot is free again.
    void forkWhoseGuestCannotMoveOnLeavesNothing_data()
    {
        QTest::addColumn<QString>("command");
        QTest::addColumn<QByteArray>("stub");
        QTest::addColumn<int>("code"); // Core::ErrorCode
        QTest::newRow("hostname fails") << QStringLiteral("hostname") << QByteArray("echo 'hostname: you must be root' >&2; exit 1")
                                        << int(Core::ErrorCode::Agent);
        QTest::newRow("date hangs") << QStringLiteral("date") << QByteArray("exec sleep 600") << int(Core::ErrorCode::Timeout);
    }
    void forkWhoseGuestCannotMoveOnLeavesNothing()
    {
        QFETCH(QString, command);
        QFETCH(QByteArray, stub);
        QFETCH(int, code);
        FakeVmm::Driver driver(m_agentSocket);
        Vm::VmManager manager(driver, stateDir());
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        E2E_VERIFY_OK(await(manager.start(QStringLiteral("box")), kOpTimeoutMs));
        E2E_VERIFY_OK(await(manager.snapshot(QStringLiteral("box"), {QStringLiteral("golden"), false}), 30000));
        QVERIFY(HostAgent::writeStub(m_stubs, command, stub));
        const auto restoreStubs = qScopeGuard([this] { HostAgent::writeCommandStubs(m_stubs); });

        auto forks = await(manager.fork(QStringLiteral("box"), QStringLiteral("golden"), {2, QStringLiteral("mute")}), kGuestStepBoundMs);
        QVERIFY(!forks);
        QCOMPARE(int(forks.error().code), code);
        QVERIFY2(forks.error().message.startsWith(QStringLiteral("fork mute-")), qPrintable(forks.error().message));
        QTRY_VERIFY_WITH_TIMEOUT(!manager.contains(QStringLiteral("mute-1")) && !manager.contains(QStringLiteral("mute-2")), 10000);
        QCOMPARE(manager.names(), QStringList{QStringLiteral("box")});
        QCOMPARE(manager.info(QStringLiteral("box"))->state, State::Ready); // the source is untouched
        E2E_VERIFY_OK(manager.deleteSnapshot(QStringLiteral("box"), QStringLiteral("golden")));
    }

    // A delete cut short (or a record lost) leaves a disk, snapshots and a
    // console log without a record: a new VM of that name starts clean,
    // never from them. A record that did not load is refused, not replaced.
    void newVmNeverInheritsLeftovers()
    {
        FakeVmm::Driver driver(m_agentSocket);
        const QString dir = stateDir();
        QVERIFY(QDir().mkpath(dir + QStringLiteral("/box.disk")));
        QVERIFY(QDir().mkpath(dir + QStringLiteral("/box.snapshots/old")));
        for (const QString &leftover :
             {QStringLiteral("/box.disk/overlay.qcow2"), QStringLiteral("/box.snapshots/old/manifest.json"), QStringLiteral("/box.console.log")}) {
            QFile f(dir + leftover);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("an earlier VM's");
        }
        QFile broken(dir + QStringLiteral("/kept.json"));
        QVERIFY(broken.open(QIODevice::WriteOnly));
        broken.write("{not a record");
        broken.close();

        Vm::VmManager manager(driver, dir);
        QCOMPARE(manager.loadWarnings().size(), 1);
        E2E_VERIFY_OK(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(!QFileInfo::exists(dir + QStringLiteral("/box.disk/overlay.qcow2")));
        QVERIFY(!QFileInfo::exists(dir + QStringLiteral("/box.snapshots")));
        QVERIFY(!QFileInfo::exists(dir + QStringLiteral("/box.console.log")));
        QVERIFY(manager.snapshots(QStringLiteral("box"))->isEmpty());

        const auto refused = manager.create({QStringLiteral("kept"), QStringLiteral("minimal"), 1, 256});
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, Core::ErrorCode::AlreadyExists);
        QCOMPARE(QFileInfo(dir + QStringLiteral("/kept.json")).size(), qint64(13));
    }
};

QTEST_MAIN(TestVmManagerStates)
#include "tst_vmmanagerstates.moc"
