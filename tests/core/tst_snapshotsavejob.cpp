// SnapshotSaveJob against a VMM test double (tests/fakevmm.h, no QEMU): the
// order of its steps, staying paused, a VM paused before, failures and
// cancels at each step (the VM runs again), a VMM that goes away midway (or
// dies: its error, not Cancelled), and the disk copied beside the state.

#include "tests/fakevmm.h"
#include "core/vm/snapshotsavejob.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using Vm::SnapshotSaveJob;
using Info = Snapshot::SnapshotInfo;

namespace {

Core::Expected<Info> await(Core::Future<Info> f, int ms = 10000)
{
    if (!QTest::qWaitFor([&]() { return f.isFinished(); }, ms))
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("the job never finished"));
    return f.result();
}

QStringList list(std::initializer_list<const char *> ops)
{
    QStringList out;
    for (const char *op : ops)
        out << QString::fromLatin1(op);
    return out;
}

} // namespace

class TestSnapshotSaveJob : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<FakeVmm::Instance> m_vmm;

    SnapshotSaveJob::Request request(bool wasPaused = false, bool leavePaused = false)
    {
        SnapshotSaveJob::Request r;
        r.vmName = QStringLiteral("box");
        r.directory = m_dir.path();
        r.wasPaused = wasPaused;
        r.leavePaused = leavePaused;
        r.info.vm = r.vmName;
        return r;
    }

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        m_vmm = std::make_unique<FakeVmm::Instance>(Vmm::VmSpec{}, QString());
        QVERIFY(m_vmm->start().isFinished()); // logged as "start"
    }
    void cleanup() { m_vmm.reset(); }

    void runningVmIsPausedSavedAndRunsAgain()
    {
        SnapshotSaveJob job(m_vmm.get(), request());
        const auto r = await(job.run());
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save", "resume"}));
        QCOMPARE(m_vmm->state(), Vmm::VmmInstance::State::Running);
        QVERIFY(r->pausedMs >= 0);
        QCOMPARE(r->vm, QStringLiteral("box"));
        QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("memory.state"))));
        QVERIFY(!job.cancel()); // done: too late
    }

    void leavePausedEndsWithACleanPause()
    {
        SnapshotSaveJob job(m_vmm.get(), request(false, true));
        QVERIFY(await(job.run()));
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save", "resume", "pause"}));
        QCOMPARE(m_vmm->state(), Vmm::VmmInstance::State::Paused);
    }

    void aVmPausedBeforeIsNotPausedAgainButLeftPaused()
    {
        m_vmm->pause();
        SnapshotSaveJob job(m_vmm.get(), request(true, false));
        QVERIFY(await(job.run()));
        QCOMPARE(m_vmm->log().mid(2), list({"save", "resume", "pause"}));
        QCOMPARE(m_vmm->state(), Vmm::VmmInstance::State::Paused);
    }

    void aFailedSaveRunsTheVmAgain()
    {
        m_vmm->failWith(QStringLiteral("save"), Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("no space left")));
        SnapshotSaveJob job(m_vmm.get(), request());
        const auto r = await(job.run());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::NoSpace);
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save", "resume"}));
        QCOMPARE(m_vmm->state(), Vmm::VmmInstance::State::Running);
    }

    void aFailedSaveOfAPausedVmLeavesItPaused()
    {
        m_vmm->pause();
        m_vmm->failWith(QStringLiteral("save"), Core::Error(Core::ErrorCode::Io, QStringLiteral("broken")));
        SnapshotSaveJob job(m_vmm.get(), request(true, false));
        const auto r = await(job.run());
        QVERIFY(!r);
        QCOMPARE(m_vmm->log().mid(2), list({"save"}));
        QCOMPARE(m_vmm->state(), Vmm::VmmInstance::State::Paused);
    }

    void aFailedPauseSavesNothing()
    {
        m_vmm->failWith(QStringLiteral("pause"), Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("no")));
        SnapshotSaveJob job(m_vmm.get(), request());
        const auto r = await(job.run());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QCOMPARE(m_vmm->log().mid(1), list({"pause"}));
    }

    void cancelWhilePausingSavesNothing()
    {
        m_vmm->hold(QStringLiteral("pause"));
        SnapshotSaveJob job(m_vmm.get(), request());
        auto f = job.run();
        QVERIFY(m_vmm->isHolding(QStringLiteral("pause")));
        QVERIFY(job.cancel());
        m_vmm->release(QStringLiteral("pause"));
        const auto r = await(f);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "resume"}));
    }

    void cancelWhileSavingStopsTheVmmsWrite()
    {
        m_vmm->hold(QStringLiteral("save"));
        SnapshotSaveJob job(m_vmm.get(), request());
        auto f = job.run();
        QVERIFY(m_vmm->isHolding(QStringLiteral("save")));
        QVERIFY(job.cancel());
        const auto r = await(f);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save", "cancel-save", "resume"}));
    }

    void cancelWhileSavingAVmmThatCannotStopDropsTheResult()
    {
        m_vmm->setCancellableSave(false);
        m_vmm->hold(QStringLiteral("save"));
        SnapshotSaveJob job(m_vmm.get(), request());
        auto f = job.run();
        QVERIFY(job.cancel());
        QVERIFY(!f.isFinished());
        m_vmm->release(QStringLiteral("save"));
        const auto r = await(f);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save", "cancel-save", "resume"}));
    }

    void aVmmGoneMidwayEndsCancelledWithoutTouchingIt()
    {
        m_vmm->hold(QStringLiteral("save"));
        SnapshotSaveJob job(m_vmm.get(), request());
        auto f = job.run();
        job.abandon();
        m_vmm->release(QStringLiteral("save"));
        const auto r = await(f);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Cancelled);
        QVERIFY2(r.error().message.contains(QStringLiteral("stopped")), qPrintable(r.error().message));
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save"}));
    }

    // The VMM died midway (the VM says why): the job fails with that, not as
    // cancelled, and a later stop does not change it.
    void aVmmDeadMidwayEndsWithItsError()
    {
        m_vmm->hold(QStringLiteral("save"));
        SnapshotSaveJob job(m_vmm.get(), request());
        auto f = job.run();
        job.abandon(Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU was killed by signal 9")));
        job.abandon();
        m_vmm->release(QStringLiteral("save"));
        const auto r = await(f);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(r.error().message.contains(QStringLiteral("QEMU was killed by signal 9")), qPrintable(r.error().message));
        QCOMPARE(m_vmm->log().mid(1), list({"pause", "save"}));
    }

    void aResumeThatFailsSaysTheSnapshotWasSaved()
    {
        m_vmm->failWith(QStringLiteral("resume"), Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("stuck")));
        SnapshotSaveJob job(m_vmm.get(), request());
        const auto r = await(job.run());
        QVERIFY(!r);
        QVERIFY2(r.error().message.startsWith(QStringLiteral("the snapshot was saved but VM box did not run again")), qPrintable(r.error().message));
    }

    void theDiskIsCopiedBesideTheState()
    {
        QTemporaryDir vmDisks;
        const QString disk = vmDisks.filePath(QStringLiteral("root.qcow2"));
        QFile f(disk);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(1 << 20, 'd'));
        f.close();
        auto req = request();
        req.diskSource = disk;
        req.info.diskFile = QStringLiteral("disk.qcow2");
        SnapshotSaveJob job(m_vmm.get(), req);
        QVERIFY(await(job.run()));
        QFile copy(m_dir.filePath(QStringLiteral("disk.qcow2")));
        QVERIFY(copy.open(QIODevice::ReadOnly));
        QCOMPARE(copy.readAll(), QByteArray(1 << 20, 'd'));
    }
};

QTEST_GUILESS_MAIN(TestSnapshotSaveJob)
#include "tst_snapshotsavejob.moc"
