// VmManager's lifecycle and snapshot operations over the VMM test double
// (tests/fakevmm.h: no QEMU runs) and the real agent on the host (its
// commands that would change this machine, the clock and the host name,
// are stubs): start, pause, resume, restart, stop and remove with the
// record following; a snapshot taken, restored from and then deleted (it
// is not held once the restore is done); a fork of two, each its own VM,
// named in its "guest", the snapshot free again afterwards; a fork whose
// VMM fails leaves nothing behind.

#include "e2efixture.h"

#include "tests/fakevmm.h"
#include "tests/hostagent.h"
#include "core/vm/vmmanager.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QFileInfo>
#include <QTest>

using namespace E2e;
using State = Vm::VirtualMachine::State;

namespace {

constexpr int kOpTimeoutMs = 300000; // the first start may build the minimal image

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
