// tests/reaptestvmms.sh, the ctest cleanup step that ends the VMMs a crashed
// test left: it finds them by what they hold, not only by their command
// line. Fake VMMs (a copy of sleep named qemu-system-x86_64) holding a file
// or a Unix socket under a test's directory are reaped; one holding nothing
// there, and a process that is not a VMM, are left alone. Then a real QEMU
// of `microvm-sandbox run` (as root: run as the VMM user, its sockets, disks
// and kernel passed as descriptors, so its command line names none of the
// test's paths) is found and reaped, as tests/vmmprocesses.h finds it too.

#include "core/vmm/vmmfiles.h"
#include "tests/vmmprocesses.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <fcntl.h>
#include <unistd.h>

namespace {

// The test name the reaper is pointed at: its directories are
// $TMPDIR/tst_reapvictim-XXXXXX, never this test's own.
constexpr char kVictim[] = "tst_reapvictim";
constexpr int kReaperTimeoutMs = 30000;
constexpr int kGoneTimeoutMs = 10000;
constexpr int kGuestTimeoutMs = 300000; // may build the image first

QString victimTemplate()
{
    return QDir::tempPath() + QLatin1Char('/') + QLatin1String(kVictim) + QStringLiteral("-XXXXXX");
}

QByteArray runReaper()
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QStringLiteral(MVS_REAPER), {QLatin1String(kVictim)});
    if (!p.waitForFinished(kReaperTimeoutMs))
        return "the reaper did not finish";
    return p.readAll();
}

bool gone(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    return stat.readAll().contains(") Z "); // a zombie is gone too
}

void stop(QProcess &p)
{
    if (p.state() != QProcess::NotRunning) {
        p.kill();
        p.waitForFinished(kGoneTimeoutMs);
    }
}

} // namespace

class TestReapTestVmms : public QObject {
    Q_OBJECT

    QTemporaryDir m_own;
    QString m_fakeQemu;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_own.isValid());
        m_fakeQemu = m_own.filePath(QStringLiteral("qemu-system-x86_64"));
        QVERIFY(QFile::copy(QStringLiteral("/bin/sleep"), m_fakeQemu));
        QVERIFY(QFile::setPermissions(m_fakeQemu, QFileDevice::ReadOwner | QFileDevice::ExeOwner));
    }

    void fakeVmmsAreFoundByWhatTheyHold()
    {
        QTemporaryDir victim(victimTemplate());
        QVERIFY(victim.isValid());
        const QString disk = victim.filePath(QStringLiteral("disk.img"));
        QFile f(disk);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();

        QProcess holdsFile, holdsSocket, holdsNothing, notAVmm;
        holdsFile.setStandardInputFile(disk); // fd 0 links to the disk's path
        holdsFile.start(m_fakeQemu, {QStringLiteral("600")});
        auto socket = Vmm::listenOnUnixSocket(victim.filePath(QStringLiteral("qmp.sock")), 1);
        QVERIFY2(socket, socket ? "" : qPrintable(socket.error().message));
        QVERIFY(::fcntl(*socket, F_SETFD, 0) == 0); // inherited, as a VMM's sockets are
        holdsSocket.start(m_fakeQemu, {QStringLiteral("600")});
        QVERIFY(holdsSocket.waitForStarted());
        ::close(*socket);
        holdsNothing.start(m_fakeQemu, {QStringLiteral("600")});
        notAVmm.setStandardInputFile(disk);
        notAVmm.start(QStringLiteral("/bin/sleep"), {QStringLiteral("600")});
        for (QProcess *p : {&holdsFile, &holdsSocket, &holdsNothing, &notAVmm})
            QVERIFY(p->waitForStarted());
        QCOMPARE(VmmProcesses::vmmsUnder(victim.path()).size(), 2);

        const QByteArray out = runReaper();
        QVERIFY2(out.contains(QStringLiteral("(pid %1)").arg(holdsFile.processId()).toUtf8()), out.constData());
        QVERIFY2(out.contains(QStringLiteral("(pid %1)").arg(holdsSocket.processId()).toUtf8()), out.constData());
        QVERIFY2(out.contains(QByteArray("removed ").append(QFile::encodeName(victim.path()))), out.constData());
        QVERIFY(holdsFile.waitForFinished(kGoneTimeoutMs));
        QVERIFY(holdsSocket.waitForFinished(kGoneTimeoutMs));
        QCOMPARE(holdsNothing.state(), QProcess::Running);
        QCOMPARE(notAVmm.state(), QProcess::Running);
        for (QProcess *p : {&holdsNothing, &notAVmm})
            stop(*p);
    }

    // A QEMU of this code, left running by the CLI: the reaper ends it.
    void aRealQemuIsReaped()
    {
        QTemporaryDir victim(victimTemplate());
        QVERIFY(victim.isValid());
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("MVS_RUNTIME_DIR"), victim.filePath(QStringLiteral("run")));
        env.insert(QStringLiteral("MVS_AGENT_BINARY"), QStringLiteral(MVS_AGENT_BINARY));
        QProcess cli;
        cli.setProcessEnvironment(env);
        cli.start(QStringLiteral(MVS_APP_BINARY),
                  {QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"), QStringLiteral("echo started; sleep 600")});
        QVERIFY(cli.waitForStarted());
        QByteArray out;
        QElapsedTimer t;
        t.start();
        while (!out.contains("started") && cli.state() == QProcess::Running && t.elapsed() < kGuestTimeoutMs) {
            cli.waitForReadyRead(1000);
            out += cli.readAllStandardOutput();
        }
        const QList<qint64> qemus = VmmProcesses::vmmsUnder(victim.path());
        auto cleanup = qScopeGuard([&]() {
            for (qint64 pid : qemus)
                ::kill(pid_t(pid), SIGKILL);
            stop(cli);
        });
        QVERIFY2(out.contains("started"), cli.readAllStandardError().constData());
        QCOMPARE(qemus.size(), 1);
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(qemus.first()));
        QVERIFY(cmdline.open(QIODevice::ReadOnly));
        const bool namesNoPath = !cmdline.readAll().contains(QFile::encodeName(victim.path()));
        if (::geteuid() == 0) // a root service: the VMM user, descriptors only
            QVERIFY2(namesNoPath, "a QEMU run as the VMM user names the runtime directory on its command line");

        const QByteArray reaped = runReaper();
        QVERIFY2(reaped.contains(QStringLiteral("(pid %1)").arg(qemus.first()).toUtf8()), reaped.constData());
        QTRY_VERIFY_WITH_TIMEOUT(gone(qemus.first()), kGoneTimeoutMs);
        QVERIFY(cli.waitForFinished(kGoneTimeoutMs)); // its VM is gone
        QVERIFY(cli.exitCode() != 0);
    }
};

QTEST_GUILESS_MAIN(TestReapTestVmms)
#include "tst_reaptestvmms.moc"
