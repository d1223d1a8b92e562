// A VMM the service starts is confined (issue 14): QEMU's sandbox denies
// spawning, its environment holds nothing of the service's (MVS_TOKEN is set
// in this process, which plays the service), and a guest flooding its serial
// console leaves a console log under its cap, still readable afterwards.
// As root, each QEMU runs as a uid and gid of its own out of the VMM user's
// subordinate ids (not the service's uid, not the VMM user's), which cannot
// read the service's token file or its data directory, nor reach another
// VM's QEMU through /proc (its descriptors, environment or memory).
// QEMU only: cloud-hypervisor's confinement is pinned by tst_chvmconfig.

#include "e2efixture.h"

#include "core/vm/vmmanager.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/vmmcredentials.h"
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
constexpr int kStopTimeoutMs = 180000; // a guest's shutdown under TCG, then the kill

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

// Who process `pid` runs as (its real uid and gid, its groups).
Vmm::VmmCredentials credentialsOf(qint64 pid)
{
    Vmm::VmmCredentials c;
    c.user = QStringLiteral("pid %1").arg(pid);
    c.uid = uid_t(statusField(pid, "Uid").value(0).toUInt());
    c.gid = gid_t(statusField(pid, "Gid").value(0).toUInt());
    for (const QByteArray &g : statusField(pid, "Groups"))
        if (!g.isEmpty())
            c.groups.append(gid_t(g.toUInt()));
    if (!c.groups.contains(c.gid))
        c.groups.append(c.gid);
    return c;
}

// The VMM user's subordinate uids (/etc/subuid).
std::optional<Vmm::SubIdRange> vmmUidRange(const Vmm::VmmCredentials &vmmUser)
{
    QFile f(QString::fromLatin1(Vmm::kSubUidFile));
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    return Vmm::subIdRangeOf(Vmm::parseSubIds(f.readAll()), vmmUser.user, vmmUser.uid);
}

// A descriptor of QEMU's on a path: its disk (disk.qcow2, disk.raw) if it
// has one (the minimal image has none), else a regular file, else any path
// (/dev/null). -1 if none.
int pathFdOf(qint64 pid)
{
    QDir fds(QStringLiteral("/proc/%1/fd").arg(pid));
    int file = -1, path = -1;
    for (const QFileInfo &fd : fds.entryInfoList(QDir::NoDotAndDotDot | QDir::System)) {
        const QString target = fd.symLinkTarget();
        if (QFileInfo(target).fileName().startsWith(QLatin1String("disk.")))
            return fd.fileName().toInt();
        if (file < 0 && QFileInfo(target).isFile())
            file = fd.fileName().toInt();
        if (path < 0 && QFileInfo::exists(target))
            path = fd.fileName().toInt();
    }
    return file >= 0 ? file : path;
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
    // are its VM's own, in the VMM user's range and neither the VMM user's
    // nor the service's; it has no supplementary group of root, and that uid
    // cannot read the service's token file or its state directory.
    void checkVmmUser(qint64 pid)
    {
        if (::geteuid() != 0) {
            qInfo("not root: QEMU runs as the service's uid");
            QCOMPARE(statusField(pid, "Uid").value(0), QByteArray::number(::geteuid()));
            return;
        }
        const auto base = Vmm::vmmCredentials();
        QVERIFY2(base && base->has_value(), base ? "no VMM user" : qPrintable(base.error().message));
        const auto range = vmmUidRange(**base);
        QVERIFY2(range, "the VMM user has no subordinate uids");
        const Vmm::VmmCredentials vmm = credentialsOf(pid);
        const QByteArray uid = QByteArray::number(vmm.uid), gid = QByteArray::number(vmm.gid);
        QCOMPARE(statusField(pid, "Uid"), (QList<QByteArray>{uid, uid, uid, uid}));
        QCOMPARE(statusField(pid, "Gid"), (QList<QByteArray>{gid, gid, gid, gid}));
        QVERIFY(!statusField(pid, "Groups").contains("0"));
        QVERIFY(vmm.uid != ::geteuid());
        QVERIFY(vmm.uid != (*base)->uid && vmm.gid != (*base)->gid);
        QVERIFY2(vmm.uid >= range->first && vmm.uid < range->first + range->count, uid.constData());
        qInfo("QEMU %lld runs as uid %u gid %u (range %llu+%llu)", pid, vmm.uid, vmm.gid, range->first, range->count);

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

    // As root: two VMs at once, two uids. A process of the first QEMU's uid
    // (with its groups) can open its own QEMU's environment and descriptors but neither the
    // second QEMU's files through /proc/<pid>/fd (its disk; the minimal
    // image has none: a file or device it holds), nor its environment or
    // memory, nor list its descriptors.
    void qemusOfTwoVmsCannotReachEachOther()
    {
        if (::geteuid() != 0)
            QSKIP("as root only: otherwise every QEMU runs as the service's uid");
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        Vm::VmManager m(*d.driver, m_home.filePath(QStringLiteral("state2")));
        const QString a = QStringLiteral("neighbour-a"), b = QStringLiteral("neighbour-b");
        E2E_VERIFY_OK(m.create({a, QStringLiteral("minimal"), {}, {}}));
        E2E_VERIFY_OK(m.create({b, QStringLiteral("minimal"), {}, {}}));
        auto startedA = m.start(a);
        auto startedB = m.start(b);
        E2E_VERIFY_OK(await(startedA, kStartTimeoutMs));
        E2E_VERIFY_OK(await(startedB, kStartTimeoutMs));
        const qint64 pidA = m.vm(a)->instance()->pid(), pidB = m.vm(b)->instance()->pid();
        QVERIFY(pidA > 0 && pidB > 0);
        checkVmmUser(pidA);
        checkVmmUser(pidB);
        const Vmm::VmmCredentials credsA = credentialsOf(pidA), credsB = credentialsOf(pidB);
        qInfo("QEMU of %s: uid %u gid %u; of %s: uid %u gid %u", qPrintable(a), credsA.uid, credsA.gid, qPrintable(b), credsB.uid, credsB.gid);
        QVERIFY(credsA.uid != credsB.uid);
        QVERIFY(credsA.gid != credsB.gid);
        const int fileA = pathFdOf(pidA), fileB = pathFdOf(pidB);
        QVERIFY2(fileA >= 0 && fileB >= 0, "no descriptor on a path in a QEMU");
        qInfo("the second QEMU's descriptor %d: %s", fileB, qPrintable(QFileInfo(QStringLiteral("/proc/%1/fd/%2").arg(pidB).arg(fileB)).symLinkTarget()));

        const QString script = QStringLiteral("cat /proc/%1/environ >/dev/null 2>&1 && echo own-environ; "
                                              "(exec 3</proc/%1/fd/%4) 2>/dev/null && echo own-file; "
                                              "(exec 3</proc/%2/fd/%3) 2>/dev/null && echo read-file || echo no-file; "
                                              "cat /proc/%2/environ >/dev/null 2>&1 && echo read-environ || echo no-environ; "
                                              "head -c 1 /proc/%2/mem >/dev/null 2>&1 && echo read-mem || echo no-mem; "
                                              "ls /proc/%2/fd >/dev/null 2>&1 && echo listed-fds || echo no-fds")
                                   .arg(pidA)
                                   .arg(pidB)
                                   .arg(fileB)
                                   .arg(fileA);
        const QByteArray out = runAs(credsA, script, m_home.filePath(QStringLiteral("neighbour.log")));
        qInfo("as uid %u: %s", credsA.uid, out.simplified().constData());
        // the same uid could: the checks below mean something
        QVERIFY2(out.contains("own-environ\n") && out.contains("own-file\n"), out.constData());
        for (const char *denied : {"no-file\n", "no-environ\n", "no-mem\n", "no-fds\n"})
            QVERIFY2(out.contains(denied), out.constData());
        E2E_VERIFY_OK(await(m.stop(a), kStopTimeoutMs));
        E2E_VERIFY_OK(await(m.stop(b), kStopTimeoutMs));
    }
};

QTEST_GUILESS_MAIN(TestVmmConfinement)
#include "tst_vmmconfinement.moc"
