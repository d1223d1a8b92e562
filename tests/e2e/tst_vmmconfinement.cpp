// A VMM the service starts is confined (issue 14): QEMU's sandbox denies
// spawning, its environment holds nothing of the service's (MVS_TOKEN is set
// in this process, which plays the service), and a guest flooding its serial
// console leaves a console log under its cap, still readable afterwards.
// As root, QEMU runs as the VMM user (not the service's uid), which cannot
// read the service's token file or its data directory.
// QEMU only: cloud-hypervisor's confinement is pinned by tst_chvmconfig.

#include "e2efixture.h"

#include "core/vm/vmmanager.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <unistd.h>

using namespace E2e;

namespace {

constexpr char kToken[] = "tst-vmmconfinement-secret-token";
constexpr int kStartTimeoutMs = kBootTimeoutMs + 300000; // a first run may build the image
// The flood: more than both console files hold, bounded in time too.
constexpr qint64 kFloodBytes = 3 * Vmm::ConsoleLog::kMaxFileBytes;
constexpr int kFloodSeconds = 120; // TCG moves some 60 KB/s through the 16550 here: past one rotation
constexpr int kExecTimeoutMs = 60000;

// NUL-separated /proc/<pid>/<what> (cmdline, environ).
QList<QByteArray> procList(qint64 pid, const char *what)
{
    QFile f(QStringLiteral("/proc/%1/%2").arg(pid).arg(QLatin1String(what)));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QList<QByteArray> items = f.readAll().split('\0');
    items.removeAll(QByteArray());
    return items;
}

// A "Name:\tv1\tv2..." line of /proc/<pid>/status.
QList<QByteArray> statusField(qint64 pid, const QByteArray &name)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith(QByteArray(name + ':')))
            return line.mid(name.size() + 1).simplified().split(' ');
    return {};
}

// What `script` prints when run as `creds` (with VmmProcess, like a VMM).
QByteArray runAs(const Vmm::VmmCredentials &creds, const QString &script, const QString &log)
{
    Vmm::VmmProcess p(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), script}, log);
    p.setCredentials(creds);
    QSignalSpy finished(&p, &Vmm::VmmProcess::finished);
    p.start();
    if (!finished.wait(kExecTimeoutMs))
        return {};
    QFile f(log);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

qint64 sizeOf(const QString &path)
{
    return QFileInfo(path).size();
}

} // namespace

class TestVmmConfinement : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;

    // As root: QEMU's real, effective, saved and file-system uids (and gids)
    // are the VMM user's, it has no supplementary group of root, and that
    // user cannot read the service's token file or its state directory.
    void checkVmmUser(qint64 pid)
    {
        if (::geteuid() != 0) {
            qInfo("not root: QEMU runs as the service's uid");
            QCOMPARE(statusField(pid, "Uid").value(0), QByteArray::number(::geteuid()));
            return;
        }
        const auto creds = Vmm::vmmCredentials();
        QVERIFY2(creds && creds->has_value(), creds ? "no VMM user" : qPrintable(creds.error().message));
        const Vmm::VmmCredentials &vmm = **creds;
        const QByteArray uid = QByteArray::number(vmm.uid), gid = QByteArray::number(vmm.gid);
        QCOMPARE(statusField(pid, "Uid"), (QList<QByteArray>{uid, uid, uid, uid}));
        QCOMPARE(statusField(pid, "Gid"), (QList<QByteArray>{gid, gid, gid, gid}));
        QVERIFY(!statusField(pid, "Groups").contains("0"));
        QVERIFY(vmm.uid != ::geteuid());

        const QString token = m_home.filePath(QStringLiteral("token"));
        QFile t(token);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write(kToken);
        t.close();
        QVERIFY(t.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
        const QString state = m_home.filePath(QStringLiteral("state"));
        const QString script = QStringLiteral("cat %1 2>/dev/null || echo no-token; ls %2 >/dev/null 2>&1 || echo no-state").arg(token, state);
        const QByteArray out = runAs(vmm, script, m_home.filePath(QStringLiteral("runas.log")));
        QVERIFY2(out.contains("no-token\n") && out.contains("no-state\n") && !out.contains(kToken), out.constData());

        // QEMU holds no descriptor of the service's files but its own VM's.
        QDir fds(QStringLiteral("/proc/%1/fd").arg(pid));
        for (const QFileInfo &fd : fds.entryInfoList(QDir::NoDotAndDotDot | QDir::System))
            QVERIFY2(fd.symLinkTarget() != token, qPrintable(fd.symLinkTarget()));
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_TOKEN", kToken);
    }

    void qemuIsConfinedAndItsConsoleCapped()
    {
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        Vm::VmManager m(*d.driver, m_home.filePath(QStringLiteral("state")));
        const QString name = QStringLiteral("confined");
        E2E_VERIFY_OK(m.create({name, QStringLiteral("minimal"), {}, {}}));
        E2E_VERIFY_OK(await(m.start(name), kStartTimeoutMs));
        const qint64 pid = m.vm(name)->instance()->pid();
        QVERIFY(pid > 0);

        // -sandbox with spawn denied.
        const QList<QByteArray> cmdline = procList(pid, "cmdline");
        const qsizetype sandbox = cmdline.indexOf("-sandbox");
        QVERIFY2(sandbox >= 0 && sandbox + 1 < cmdline.size(), cmdline.join(' ').constData());
        QVERIFY2(cmdline.at(sandbox + 1).split(',').contains("spawn=deny"), cmdline.at(sandbox + 1).constData());
        QVERIFY(!cmdline.join(' ').contains("exec:"));

        // Nothing of this process's environment: only what vmmEnvironment() sets.
        QVERIFY(qgetenv("MVS_TOKEN") == kToken);
        const QList<QByteArray> vmmEnv = procList(pid, "environ");
        QVERIFY2(!vmmEnv.isEmpty(), "cannot read the VMM's environment");
        for (const QByteArray &var : vmmEnv) {
            QVERIFY2(!var.startsWith("MVS_"), var.constData());
            QVERIFY2(!var.contains(kToken), var.constData());
        }
        QVERIFY(vmmEnv.contains(QByteArray("PATH=") + Vmm::kVmmPath));
        checkVmmUser(pid);

        // A console flood: the log rotates and stays capped.
        const QString log = m.consoleLogPath(name);
        const QString flood = QStringLiteral("timeout %1 sh -c 'head -c %2 /dev/urandom > /dev/ttyS0'; echo flooded").arg(kFloodSeconds).arg(kFloodBytes);
        auto flooded = runInVm(m, name, flood, (kFloodSeconds + 30) * 1000);
        E2E_VERIFY_OK(flooded);
        QCOMPARE(QString::fromUtf8(flooded->stdoutData).trimmed(), QStringLiteral("flooded"));
        qInfo("console after the flood: %lld + %lld bytes", sizeOf(log), sizeOf(log + QStringLiteral(".1")));
        QVERIFY(sizeOf(log) <= Vmm::ConsoleLog::kMaxFileBytes);
        QVERIFY(sizeOf(log + QStringLiteral(".1")) <= Vmm::ConsoleLog::kMaxFileBytes);
        QVERIFY(!QFile::exists(log + QStringLiteral(".2")));
        // Still captured afterwards, and read across the rotation.
        E2E_VERIFY_OK(runInVm(m, name, QStringLiteral("echo console-after-flood > /dev/ttyS0"), kExecTimeoutMs));
        QTRY_VERIFY_WITH_TIMEOUT(m.consoleLog(name, 64 * 1024)->contains("console-after-flood"), 20000);
        QVERIFY(sizeOf(log) <= Vmm::ConsoleLog::kMaxFileBytes);
    }
};

QTEST_GUILESS_MAIN(TestVmmConfinement)
#include "tst_vmmconfinement.moc"
