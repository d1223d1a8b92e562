// Snapshots, restore and fork on real guests, through VmManager (the layer
// the service, the CLI and the GUI use). Every row runs on QEMU here; the
// cloud-hypervisor row runs where KVM and a cloud-hypervisor binary exist.

#include "e2efixture.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>
#include <sys/mount.h>
#include <unistd.h>

using namespace E2e;

namespace {

constexpr int kOpTimeoutMs = 240000; // a snapshot or restore under TCG on a busy host

// Direct children of pid (from /proc/*/stat).
[[maybe_unused]] QList<int> childrenOf(qint64 pid)
{
    QList<int> out;
    for (const QString &p : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool ok = false;
        const int n = p.toInt(&ok);
        if (!ok)
            continue;
        QFile stat(QStringLiteral("/proc/%1/stat").arg(p));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        const QByteArray s = stat.readAll();
        const QList<QByteArray> fields = s.mid(s.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 2 && fields.at(1).toLongLong() == pid && fields.at(0) != "Z")
            out << n;
    }
    return out;
}

} // namespace

class TestSnapshots : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_stateDir;
    std::shared_ptr<Vmm::VmmDriver> m_driverHold;
    std::unique_ptr<Vm::VmManager> m_manager;

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

    Core::Expected<Snapshot::SnapshotInfo> snap(const QString &vm, const QString &name)
    {
        return await(m_manager->snapshot(vm, {name, false}), kOpTimeoutMs);
    }

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
        const QString pid = out(vm, QStringLiteral("setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done' "
                                                   "</dev/null >/dev/null 2>&1 & echo $!"));
        QVERIFY2(pid.toInt() > 1, qPrintable(pid));
        QTRY_VERIFY_WITH_TIMEOUT(out(vm, QStringLiteral("cat /tmp/counter 2>/dev/null || echo 0")).toInt() > 2, 20000);

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
    }
};

QTEST_GUILESS_MAIN(TestSnapshots)
#include "tst_snapshots.moc"
