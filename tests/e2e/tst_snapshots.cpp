// Snapshots, restore and fork on real guests, through VmManager (the layer
// the service, the CLI and the GUI use). Every row runs on QEMU here; the
// cloud-hypervisor row runs where KVM and a cloud-hypervisor binary exist.

#include "e2efixture.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"

#include <QDeadlineTimer>
#include <QDirIterator>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDir>
#include <QScopeGuard>
#include <QSet>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

using namespace E2e;

namespace {

constexpr int kOpTimeoutMs = 240000; // a snapshot or restore under TCG on a busy host

QList<int> childrenOf(qint64 pid)
{
    return childProcessesOf(pid);
}

// Bytes of VMM state written so far under a VM's snapshot directory (its
// staging directory while a snapshot is taken).
qint64 stateBytesUnder(const QString &snapshotDir)
{
    qint64 bytes = 0;
    QDirIterator it(snapshotDir, {QStringLiteral("memory.state")}, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext())
        bytes += QFileInfo(it.next()).size();
    return bytes;
}

} // namespace

class TestSnapshots : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_stateDir;
    std::shared_ptr<Vmm::VmmDriver> m_driverHold;
    std::unique_ptr<Vm::VmManager> m_manager;
    QString m_stateDirOverride;

    // A manager over a fresh state directory (or `stateDir`).
    bool makeManager(Vmm::VmmDriver &driver, const QString &stateDir = QString())
    {
        m_manager.reset();
        if (stateDir.isEmpty()) {
            m_stateDir = std::make_unique<QTemporaryDir>();
            if (!m_stateDir->isValid())
                return false;
        }
        m_manager = std::make_unique<Vm::VmManager>(driver, stateDir.isEmpty() ? m_stateDir->path() : stateDir);
        return true;
    }

    Core::Expected<Agent::ExecResult> sh(const QString &vm, const QString &command)
    {
        auto agent = m_manager->agent(vm);
        if (!agent)
            return agent.error();
        Agent::ExecRequest req;
        req.shell = command;
        req.timeoutMs = 60000;
        return await((*agent)->run(req), 90000);
    }

    // stdout of a command that must succeed, trimmed.
    QString out(const QString &vm, const QString &command)
    {
        auto r = sh(vm, command);
        if (!r)
            return QStringLiteral("<error: %1>").arg(r.error().toString());
        if (r->exitCode != 0)
            return QStringLiteral("<exit %1: %2>").arg(r->exitCode).arg(QString::fromUtf8(r->stderrData));
        return QString::fromUtf8(r->stdoutData).trimmed();
    }

    bool createAndStart(const QString &name, std::optional<int> memoryMiB = std::nullopt)
    {
        auto created = m_manager->create({name, QStringLiteral("minimal"), std::nullopt, memoryMiB});
        if (!created) {
            qWarning() << created.error().toString();
            return false;
        }
        auto started = await(m_manager->start(name), kBootTimeoutMs + 300000);
        if (!started)
            qWarning() << started.error().toString();
        return started.hasValue();
    }

    Core::Expected<Snapshot::SnapshotInfo> snap(const QString &vm, const QString &name) { return await(m_manager->snapshot(vm, {name, false}), kOpTimeoutMs); }

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }
    void cleanup()
    {
        m_manager.reset(); // kills every VM
        m_stateDir.reset();
    }

    // The must-show: a file and a running process come back with the snapshot.
    void restoreBringsBackFilesAndProcesses_data() { addDriverRows(); }
    void restoreBringsBackFilesAndProcesses()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        QVERIFY(createAndStart(QStringLiteral("keeper")));
        const QString vm = QStringLiteral("keeper");
        QCOMPARE(out(vm, QStringLiteral("echo before > /root/state.txt && cat /root/state.txt")), QStringLiteral("before"));
        // A counter in the background, detached from the agent's pipes.
        const QString pid = out(vm,
                                QStringLiteral("setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done' "
                                               "</dev/null >/dev/null 2>&1 & echo $!"));
        QVERIFY2(pid.toInt() > 1, qPrintable(pid));
        QTRY_VERIFY_WITH_TIMEOUT(out(vm, QStringLiteral("cat /tmp/counter 2>/dev/null || echo 0")).toInt() > 2, 20000);
        QTest::qWait(5000); // the snapshot's clock is behind by the time it is restored

        auto taken = snap(vm, QStringLiteral("base"));
        E2E_VERIFY_OK(taken);
        QCOMPARE(taken->parent, QString());
        QVERIFY(taken->sizeBytes() > 0);
        QVERIFY(!taken->files.isEmpty());
        for (const auto &f : taken->files)
            QCOMPARE(f.sha256.size(), 64);
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);

        // Change both after the snapshot: new file contents, counter killed.
        QCOMPARE(out(vm, QStringLiteral("echo after > /root/state.txt; kill %1; cat /root/state.txt").arg(pid)), QStringLiteral("after"));
        QCOMPARE(out(vm, QStringLiteral("kill -0 %1 2>/dev/null && echo alive || echo gone").arg(pid)), QStringLiteral("gone"));

        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("base")), kOpTimeoutMs));
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(out(vm, QStringLiteral("cat /root/state.txt")), QStringLiteral("before"));
        QCOMPARE(out(vm, QStringLiteral("kill -0 %1 && echo alive").arg(pid)), QStringLiteral("alive"));
        // ...and still counting.
        const int c1 = out(vm, QStringLiteral("cat /tmp/counter")).toInt();
        QTRY_VERIFY_WITH_TIMEOUT(out(vm, QStringLiteral("cat /tmp/counter")).toInt() > c1, 20000);
        QCOMPARE(m_manager->info(vm)->record.currentSnapshot, QStringLiteral("base"));
        // The guest's clock is the host's again, not the snapshot's time.
        const qint64 guestNow = out(vm, QStringLiteral("date +%s")).toLongLong();
        const qint64 hostNow = QDateTime::currentSecsSinceEpoch();
        QVERIFY2(qAbs(guestNow - hostNow) <= 2, qPrintable(QStringLiteral("guest %1, host %2").arg(guestNow).arg(hostNow)));
        // The restore is done: the snapshot is not held any more.
        E2E_VERIFY_OK(m_manager->deleteSnapshot(vm, QStringLiteral("base")));
    }

    // Ten snapshot-restore cycles in a row on one VM, each restore checked.
    void tenCycles_data() { addDriverRows(); }
    void tenCycles()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("cycler");
        QVERIFY(createAndStart(vm));
        for (int i = 1; i <= 10; ++i) {
            const QString name = QStringLiteral("cycle-%1").arg(i);
            QCOMPARE(out(vm, QStringLiteral("echo %1 > /root/cycle").arg(i)), QString());
            auto taken = snap(vm, name);
            E2E_VERIFY_OK(taken);
            QCOMPARE(taken->parent, i == 1 ? QString() : QStringLiteral("cycle-%1").arg(i - 1));
            QCOMPARE(out(vm, QStringLiteral("echo spoiled > /root/cycle; cat /root/cycle")), QStringLiteral("spoiled"));
            E2E_VERIFY_OK(await(m_manager->restore(vm, name), kOpTimeoutMs));
            QCOMPARE(out(vm, QStringLiteral("cat /root/cycle")), QString::number(i));
        }
        auto list = m_manager->snapshots(vm);
        E2E_VERIFY_OK(list);
        QCOMPARE(list->size(), 10);
        QCOMPARE(list->first().name, QStringLiteral("cycle-1"));
        QCOMPARE(list->last().name, QStringLiteral("cycle-10"));
    }

    // A chain, a snapshot of a restored VM, and deleting a middle snapshot.
    void chainsAndDeletingTheMiddle_data() { addDriverRows(); }
    void chainsAndDeletingTheMiddle()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("chain");
        QVERIFY(createAndStart(vm));
        QCOMPARE(out(vm, QStringLiteral("echo a > /root/v")), QString());
        E2E_VERIFY_OK(snap(vm, QStringLiteral("s1")));
        QCOMPARE(out(vm, QStringLiteral("echo b > /root/v")), QString());
        E2E_VERIFY_OK(snap(vm, QStringLiteral("s2")));
        QCOMPARE(out(vm, QStringLiteral("echo c > /root/v")), QString());
        auto s3 = snap(vm, QStringLiteral("s3"));
        E2E_VERIFY_OK(s3);
        QCOMPARE(s3->parent, QStringLiteral("s2"));

        // Snapshot of a restored VM, and restoring that.
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("s1")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("a"));
        QCOMPARE(out(vm, QStringLiteral("echo a2 > /root/v")), QString());
        auto s4 = snap(vm, QStringLiteral("s4"));
        E2E_VERIFY_OK(s4);
        QCOMPARE(s4->parent, QStringLiteral("s1"));
        QCOMPARE(out(vm, QStringLiteral("echo junk > /root/v")), QString());
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("s4")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("a2"));

        // Delete the middle of s1 <- s2 <- s3: s3 keeps working, now under s1.
        E2E_VERIFY_OK(m_manager->deleteSnapshot(vm, QStringLiteral("s2")));
        auto after = m_manager->snapshotInfo(vm, QStringLiteral("s3"));
        E2E_VERIFY_OK(after);
        QCOMPARE(after->parent, QStringLiteral("s1"));
        QCOMPARE(m_manager->snapshotInfo(vm, QStringLiteral("s2")).error().code, Core::ErrorCode::NotFound);
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("s3")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("c"));
        // ...and the base of the chain too.
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("s1")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("a"));
        QStringList names;
        const auto listed = m_manager->snapshots(vm);
        E2E_VERIFY_OK(listed);
        for (const auto &s : *listed)
            names << s.name;
        QCOMPARE(names, (QStringList{QStringLiteral("s1"), QStringLiteral("s3"), QStringLiteral("s4")}));
        // Restoring a stopped VM starts it from the snapshot.
        E2E_VERIFY_OK(await(m_manager->stop(vm), kOpTimeoutMs));
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("s4")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("a2"));
    }

    // Three VMs from one snapshot, a command in each at once.
    void forkThree_data() { addDriverRows(); }
    void forkThree()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("origin");
        QVERIFY(createAndStart(vm));
        QCOMPARE(out(vm, QStringLiteral("echo shared > /root/from-origin")), QString());
        E2E_VERIFY_OK(snap(vm, QStringLiteral("golden")));
        auto pendingForks = m_manager->fork(vm, QStringLiteral("golden"), {3, QStringLiteral("worker")});
        // Its files are being read: it cannot be deleted meanwhile.
        QCOMPARE(m_manager->deleteSnapshot(vm, QStringLiteral("golden")).error().code, Core::ErrorCode::InvalidState);
        auto forks = await(pendingForks, 3 * kOpTimeoutMs);
        E2E_VERIFY_OK(forks);
        QCOMPARE(*forks, (QStringList{QStringLiteral("worker-1"), QStringLiteral("worker-2"), QStringLiteral("worker-3")}));

        // One command in each at the same time.
        QList<Core::Future<Agent::ExecResult>> runs;
        for (const QString &f : *forks) {
            auto info = m_manager->info(f);
            E2E_VERIFY_OK(info);
            QCOMPARE(info->state, Vm::VirtualMachine::State::Ready);
            QCOMPARE(info->record.forkedFrom, QStringLiteral("origin/golden"));
            Agent::ExecRequest req;
            req.shell = QStringLiteral("echo $(hostname) $(cat /root/from-origin); echo mine-%1 > /root/own").arg(f);
            req.timeoutMs = 60000;
            runs << (*m_manager->agent(f))->run(req);
        }
        for (int i = 0; i < runs.size(); ++i) {
            auto r = await(runs.at(i), 90000);
            E2E_VERIFY_OK(r);
            QCOMPARE(r->exitCode, 0);
            QCOMPARE(QString::fromUtf8(r->stdoutData).trimmed(), forks->at(i) + QStringLiteral(" shared"));
        }
        // Their random number generators went separate ways: the same
        // snapshot's RNG state would otherwise give the same bytes in each.
        QStringList randoms;
        for (const QString &f : *forks)
            randoms << out(f, QStringLiteral("head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'"));
        qInfo() << "first random bytes of each fork:" << randoms;
        QCOMPARE(QSet<QString>(randoms.begin(), randoms.end()).size(), randoms.size());
        // The reseed they got from the host, and its refusal of a short seed.
        auto reseeded = sh(forks->at(0), QStringLiteral("head -c 64 /dev/urandom | /usr/sbin/microvm-agent --reseed-rng && echo ok"));
        E2E_VERIFY_OK(reseeded);
        QCOMPARE(QString::fromUtf8(reseeded->stdoutData).trimmed(), QStringLiteral("ok"));
        auto shortSeed = sh(forks->at(0), QStringLiteral("echo -n abc | /usr/sbin/microvm-agent --reseed-rng"));
        E2E_VERIFY_OK(shortSeed);
        QCOMPARE(shortSeed->exitCode, 2);
        QVERIFY(shortSeed->stderrData.contains("seed"));
        // Each is its own machine: what one writes the others do not see.
        for (const QString &f : *forks)
            QCOMPARE(out(f, QStringLiteral("cat /root/own")), QStringLiteral("mine-%1").arg(f));
        QCOMPARE(out(vm, QStringLiteral("cat /root/own 2>/dev/null || echo none")), QStringLiteral("none"));
        // A second fork continues the numbering.
        auto more = await(m_manager->fork(vm, QStringLiteral("golden"), {1, QStringLiteral("worker")}), kOpTimeoutMs);
        E2E_VERIFY_OK(more);
        QCOMPARE(*more, QStringList{QStringLiteral("worker-4")});
        // Once the forks are done the snapshot is no longer held (its reader
        // count is released where the caller's future resolves).
        E2E_VERIFY_OK(m_manager->deleteSnapshot(vm, QStringLiteral("golden")));
    }

    // A snapshot whose file changed after it was written is refused, and
    // the VM is left running as it was.
    void corruptSnapshotIsRefused_data() { addDriverRows(); }
    void corruptSnapshotIsRefused()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("rotten");
        QVERIFY(createAndStart(vm));
        auto taken = snap(vm, QStringLiteral("s"));
        E2E_VERIFY_OK(taken);
        QCOMPARE(out(vm, QStringLiteral("echo now > /root/v; cat /root/v")), QStringLiteral("now"));
        // Flip one byte in the middle of the state file.
        const QString file = QDir(taken->directory).filePath(taken->stateFiles.first());
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadWrite));
        f.seek(f.size() / 2);
        char c = 0;
        QVERIFY(f.getChar(&c));
        f.seek(f.size() / 2);
        QVERIFY(f.putChar(char(c ^ 0x5a)));
        f.close();
        auto restored = await(m_manager->restore(vm, QStringLiteral("s")), kOpTimeoutMs);
        QVERIFY(!restored);
        QCOMPARE(restored.error().code, Core::ErrorCode::Corrupted);
        QVERIFY2(restored.error().message.contains(taken->stateFiles.first()), qPrintable(restored.error().message));
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("now"));
        auto forked = await(m_manager->fork(vm, QStringLiteral("s"), {1, QString()}), kOpTimeoutMs);
        QVERIFY(!forked);
        QCOMPARE(forked.error().code, Core::ErrorCode::Corrupted);
        QCOMPARE(m_manager->names(), QStringList{vm});
    }

    // A snapshot saved by another VMM version is refused: before the VM is
    // touched when it runs, before anything loads when it is stopped.
    void otherVmmVersionIsRefused_data() { addDriverRows(); }
    void otherVmmVersionIsRefused()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("versioned");
        QVERIFY(createAndStart(vm));
        auto taken = snap(vm, QStringLiteral("s"));
        E2E_VERIFY_OK(taken);
        QVERIFY2(!taken->vmmVersion.isEmpty(), "the snapshot does not say which VMM saved it");
        QCOMPARE(taken->vmmVersion, m_manager->vm(vm)->instance()->vmmVersion());
        // The manifest as another version would have written it.
        const QString manifest = QDir(taken->directory).filePath(QStringLiteral("manifest.json"));
        QFile f(manifest);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
        f.close();
        o[QStringLiteral("vmm_version")] = QStringLiteral("1.0.0");
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(QJsonDocument(o).toJson());
        f.close();
        QCOMPARE(out(vm, QStringLiteral("echo kept > /root/v; cat /root/v")), QStringLiteral("kept"));
        auto running = await(m_manager->restore(vm, QStringLiteral("s")), kOpTimeoutMs);
        QCOMPARE(running.error().code, Core::ErrorCode::Unsupported);
        QVERIFY2(running.error().message.contains(QLatin1String("1.0.0")), qPrintable(running.error().message));
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(out(vm, QStringLiteral("cat /root/v")), QStringLiteral("kept"));
        E2E_VERIFY_OK(await(m_manager->stop(vm), 60000));
        auto stopped = await(m_manager->restore(vm, QStringLiteral("s")), kOpTimeoutMs);
        QCOMPARE(stopped.error().code, Core::ErrorCode::Unsupported);
        QVERIFY2(stopped.error().message.contains(QLatin1String("1.0.0")), qPrintable(stopped.error().message));
        auto forked = await(m_manager->fork(vm, QStringLiteral("s"), {1, QString()}), kOpTimeoutMs);
        QCOMPARE(forked.error().code, Core::ErrorCode::Unsupported);
        QCOMPARE(m_manager->names(), QStringList{vm});
    }

    // Kill the VMM while it writes the snapshot's state: the snapshot fails
    // with VmmFailed, no staging directory or manifest is left, the VM ends
    // failed with that error on its record, and the manager goes on (the VM
    // starts again and takes a snapshot).
    void killedVmmLeavesNothing_data() { addDriverRows(); }
    void killedVmmLeavesNothing()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("victim");
        QVERIFY(createAndStart(vm, 512));
        // Enough guest memory in use that saving it takes a while.
        QCOMPARE(out(vm, QStringLiteral("dd if=/dev/urandom of=/root/fill bs=1M count=200 2>/dev/null && echo ok")), QStringLiteral("ok"));
        const qint64 vmmPid = m_manager->vm(vm)->instance()->pid();
        QVERIFY(vmmPid > 0);
        auto pending = m_manager->snapshot(vm, {QStringLiteral("doomed"), false});
        // Midway: QEMU's state file grows (cloud-hypervisor: give it a moment).
        QDeadlineTimer deadline(60000);
        while (driver.kind() == Vmm::DriverKind::Qemu && stateBytesUnder(m_manager->snapshotDir(vm)) == 0 && !deadline.hasExpired() && !pending.isFinished())
            QCoreApplication::processEvents(QEventLoop::AllEvents, 2);
        if (driver.kind() != Vmm::DriverKind::Qemu)
            QTest::qWait(200);
        QVERIFY2(!pending.isFinished(), "the snapshot ended before the VMM could be killed");
        qInfo("killing the VMM (pid %lld) with %lld bytes of state written", vmmPid, stateBytesUnder(m_manager->snapshotDir(vm)));
        QCOMPARE(::kill(pid_t(vmmPid), SIGKILL), 0);
        auto result = await(pending, kOpTimeoutMs);
        QVERIFY2(!result, "the snapshot succeeded although its VMM was killed");
        qInfo() << "snapshot with a killed VMM:" << result.error().toString();
        QCOMPARE(result.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY(m_manager->snapshots(vm)->isEmpty());
        QCOMPARE(QDir(m_manager->snapshotDir(vm)).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), QStringList());
        const auto info = m_manager->info(vm);
        QVERIFY2(info->state == Vm::VirtualMachine::State::Failed || info->state == Vm::VirtualMachine::State::Stopped,
                 Vm::stateName(info->state).toUtf8().constData());
        QVERIFY(info->record.lastError.has_value());
        QCOMPARE(info->record.lastError->code, Core::ErrorCode::VmmFailed);
        // The manager goes on: the VM starts again, and snapshots.
        auto restarted = await(m_manager->start(vm), kBootTimeoutMs);
        E2E_VERIFY_OK(restarted);
        QCOMPARE(out(vm, QStringLiteral("echo alive")), QStringLiteral("alive"));
        E2E_VERIFY_OK(snap(vm, QStringLiteral("after")));
        QCOMPARE(m_manager->snapshots(vm)->size(), 1);
    }

    // Cancel midway: the VM keeps running, nothing is listed.
    void cancelLeavesNothing_data() { addDriverRows(); }
    void cancelLeavesNothing()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("changed-mind");
        QVERIFY(createAndStart(vm, 512));
        QCOMPARE(m_manager->cancelSnapshot(vm).error().code, Core::ErrorCode::InvalidState); // none under way
        QCOMPARE(out(vm, QStringLiteral("dd if=/dev/urandom of=/root/fill bs=1M count=200 2>/dev/null && echo ok")), QStringLiteral("ok"));
        auto pending = m_manager->snapshot(vm, {QStringLiteral("unwanted"), false});
        // Cancel once the state is being written (QEMU's file grows), from
        // QEMU's own process: its sandbox lets it spawn no writer.
        const qint64 qemuPid = m_manager->vm(vm)->instance()->pid();
        QDeadlineTimer deadline(60000);
        while (driver.kind() == Vmm::DriverKind::Qemu && stateBytesUnder(m_manager->snapshotDir(vm)) == 0 && !deadline.hasExpired() && !pending.isFinished())
            QCoreApplication::processEvents(QEventLoop::AllEvents, 2);
        QVERIFY2(driver.kind() != Vmm::DriverKind::Qemu || stateBytesUnder(m_manager->snapshotDir(vm)) > 0, "never saw the state being written");
        if (driver.kind() == Vmm::DriverKind::Qemu)
            QCOMPARE(childrenOf(qemuPid), QList<int>());
        E2E_VERIFY_OK(m_manager->cancelSnapshot(vm));
        auto result = await(pending, kOpTimeoutMs);
        QVERIFY2(!result, "the snapshot completed although it was cancelled");
        QCOMPARE(result.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(out(vm, QStringLiteral("echo alive")), QStringLiteral("alive"));
        QVERIFY(m_manager->snapshots(vm)->isEmpty());
        QCOMPARE(QDir(m_manager->snapshotDir(vm)).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), QStringList());
        E2E_VERIFY_OK(snap(vm, QStringLiteral("wanted")));
        // Cancelled before it got going (while pausing): the same.
        auto early = m_manager->snapshot(vm, {QStringLiteral("early"), false});
        E2E_VERIFY_OK(m_manager->cancelSnapshot(vm));
        QCOMPARE(await(early, kOpTimeoutMs).error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(m_manager->snapshots(vm)->size(), 1);
    }

    // A full disk midway: the VM keeps running, nothing is listed.
    void fullDiskLeavesNothing_data() { addDriverRows(); }
    void fullDiskLeavesNothing()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QTemporaryDir mountPoint;
        QVERIFY(mountPoint.isValid());
        // A small tmpfs for the state directory (records, console logs, snapshots).
        if (::mount("tmpfs", QFile::encodeName(mountPoint.path()).constData(), "tmpfs", 0, "size=160m,mode=0700") != 0)
            QSKIP(qPrintable(QStringLiteral("cannot mount a tmpfs here (%1); run as root to test a full disk").arg(QString::fromLocal8Bit(strerror(errno)))));
        auto unmount = qScopeGuard([&mountPoint, this]() {
            m_manager.reset();
            ::umount2(QFile::encodeName(mountPoint.path()).constData(), MNT_DETACH);
        });
        m_stateDirOverride = mountPoint.path() + QStringLiteral("/vms");
        QVERIFY(makeManager(driver, m_stateDirOverride));
        const QString vm = QStringLiteral("cramped");
        QVERIFY(createAndStart(vm));
        // Guest memory in use, and a host file that leaves less room than it needs.
        QCOMPARE(out(vm, QStringLiteral("dd if=/dev/urandom of=/root/fill bs=1M count=24 2>/dev/null && echo ok")), QStringLiteral("ok"));
        struct statvfs fs { };
        QCOMPARE(::statvfs(QFile::encodeName(mountPoint.path()).constData(), &fs), 0);
        const qint64 room = qint64(fs.f_bavail) * qint64(fs.f_frsize);
        QFile filler(mountPoint.path() + QStringLiteral("/filler"));
        QVERIFY(filler.open(QIODevice::WriteOnly));
        const QByteArray chunk(1 << 20, 'x');
        for (qint64 left = room - 6 * (1 << 20); left > 0; left -= chunk.size())
            QVERIFY(filler.write(chunk.constData(), qMin<qint64>(left, chunk.size())) > 0);
        filler.close();
        auto result = await(m_manager->snapshot(vm, {QStringLiteral("toobig"), false}), kOpTimeoutMs);
        QVERIFY2(!result, "the snapshot fit although the disk is too small");
        QCOMPARE(result.error().code, Core::ErrorCode::NoSpace);
        qInfo() << "snapshot on a full disk:" << result.error().toString();
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Ready);
        QCOMPARE(out(vm, QStringLiteral("echo alive")), QStringLiteral("alive"));
        QVERIFY(m_manager->snapshots(vm)->isEmpty());
        QCOMPARE(QDir(m_manager->snapshotDir(vm)).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), QStringList());
        // The record survived the full disk; with room again a snapshot works.
        QVERIFY(QFileInfo::exists(m_stateDirOverride + QStringLiteral("/cramped.json")));
        QVERIFY(filler.remove());
        auto fits = snap(vm, QStringLiteral("fits"));
        E2E_VERIFY_OK(fits);
        qInfo() << "the snapshot that fits is" << fits->sizeBytes() << "bytes";
    }

    // A root-disk VM (the desktop template: Debian on a qcow2 overlay over
    // the shared read-only base): the disk comes back with the snapshot, and
    // forks get their own writable copies over the same base.
    void diskSnapshotAndFork_data() { addDriverRows(); }
    void diskSnapshotAndFork()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("desk");
        auto created = m_manager->create({vm, QStringLiteral("desktop"), std::nullopt, std::nullopt});
        E2E_VERIFY_OK(created);
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs + 1800000)); // a fresh machine builds the root disk first
        QCOMPARE(out(vm, QStringLiteral("echo first > /root/disk.txt && sync && cat /root/disk.txt")), QStringLiteral("first"));
        auto taken = snap(vm, QStringLiteral("ondisk"));
        E2E_VERIFY_OK(taken);
        QVERIFY(!taken->diskFile.isEmpty());
        QVERIFY(QFileInfo::exists(taken->baseDiskPath));
        QVERIFY(std::any_of(taken->files.begin(), taken->files.end(), [&](const Snapshot::SnapshotFile &f) { return f.name == taken->diskFile; }));
        // Overwritten on the disk, and the page cache dropped, so the old
        // contents could only come back from the snapshot's disk.
        QCOMPARE(out(vm, QStringLiteral("echo second > /root/disk.txt && sync && echo 3 > /proc/sys/vm/drop_caches && cat /root/disk.txt")),
                 QStringLiteral("second"));
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("ondisk")), kOpTimeoutMs));
        QCOMPARE(out(vm, QStringLiteral("echo 3 > /proc/sys/vm/drop_caches; cat /root/disk.txt")), QStringLiteral("first"));

        auto forks = await(m_manager->fork(vm, QStringLiteral("ondisk"), {2, QStringLiteral("desk-copy")}), 2 * kOpTimeoutMs);
        E2E_VERIFY_OK(forks);
        for (const QString &f : *forks) {
            QCOMPARE(out(f, QStringLiteral("cat /root/disk.txt; echo %1 > /root/own.txt && sync && hostname").arg(f)), QStringLiteral("first\n") + f);
            if (driver.kind() != Vmm::DriverKind::Qemu)
                continue;
            // Its own overlay, over the same read-only base.
            QProcess info;
            info.start(QStringLiteral("qemu-img"),
                       {QStringLiteral("info"), QStringLiteral("--force-share"), QStringLiteral("--output=json"),
                        m_manager->diskDir(f) + QStringLiteral("/root.qcow2")});
            QVERIFY(info.waitForFinished(30000));
            QVERIFY2(info.readAllStandardOutput().contains(taken->baseDiskPath.toUtf8()), "the fork's disk is not an overlay of the shared base");
        }
        QCOMPARE(out(forks->at(0), QStringLiteral("cat /root/own.txt")), forks->at(0));
        QCOMPARE(out(forks->at(1), QStringLiteral("cat /root/own.txt")), forks->at(1));
        QCOMPARE(out(vm, QStringLiteral("cat /root/own.txt 2>/dev/null || echo none")), QStringLiteral("none"));
    }

    // A snapshot left half-written by a crash is never listed and is cleaned
    // up when the manager loads; bad names and states are refused.
    void stagingAndBadInput_data() { addDriverRows(); }
    void stagingAndBadInput()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        const QString vm = QStringLiteral("tidy");
        QVERIFY(m_manager->create({vm, QStringLiteral("minimal"), std::nullopt, std::nullopt}).hasValue());
        auto stopped = await(m_manager->snapshot(vm, {}), 5000);
        QVERIFY(!stopped);
        QCOMPARE(stopped.error().code, Core::ErrorCode::InvalidState);
        const QString stale = m_manager->snapshotDir(vm) + QStringLiteral("/.staging-crashed-abc123");
        QVERIFY(QDir().mkpath(stale));
        QFile junk(stale + QStringLiteral("/memory.state"));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("half");
        junk.close();
        QVERIFY(m_manager->snapshots(vm)->isEmpty());
        makeManager(driver, m_stateDir->path()); // reload
        QVERIFY(!QFileInfo::exists(stale));
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs + 300000));
        auto bad = await(m_manager->snapshot(vm, {QStringLiteral("Bad Name"), false}), 5000);
        QCOMPARE(bad.error().code, Core::ErrorCode::InvalidArgument);
        auto automatic = snap(vm, QString());
        E2E_VERIFY_OK(automatic);
        QVERIFY2(automatic->name.startsWith(QLatin1String("snap-")), qPrintable(automatic->name));
        auto again = snap(vm, automatic->name);
        QCOMPARE(again.error().code, Core::ErrorCode::AlreadyExists);
        QCOMPARE(m_manager->restore(vm, QStringLiteral("nope")).result().error().code, Core::ErrorCode::NotFound);
        QCOMPARE(m_manager->deleteSnapshot(vm, QStringLiteral("nope")).error().code, Core::ErrorCode::NotFound);
        auto zero = await(m_manager->fork(vm, automatic->name, {0, QString()}), 5000);
        QCOMPARE(zero.error().code, Core::ErrorCode::InvalidArgument);
        // Leave it paused on request; resume works afterwards.
        auto paused = await(m_manager->snapshot(vm, {QStringLiteral("held"), true}), kOpTimeoutMs);
        E2E_VERIFY_OK(paused);
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Paused);
        E2E_VERIFY_OK(await(m_manager->snapshot(vm, {QStringLiteral("held-again"), false}), kOpTimeoutMs));
        QCOMPARE(m_manager->info(vm)->state, Vm::VirtualMachine::State::Paused);
        E2E_VERIFY_OK(await(m_manager->resume(vm), 30000));
        QCOMPARE(out(vm, QStringLiteral("echo up")), QStringLiteral("up"));
        // Deleting the VM deletes its snapshots.
        E2E_VERIFY_OK(await(m_manager->remove(vm), 60000));
        QVERIFY(!QFileInfo::exists(m_manager->snapshotDir(vm)));
    }
};

QTEST_GUILESS_MAIN(TestSnapshots)
#include "tst_snapshots.moc"
