// What a root service does so that cloud-hypervisor, running as the VMM
// user, reaches its VM's files and nothing else: the pure decisions
// (accessGrant, lentDirOwnership) and, as root, the real thing: a shell
// running as another uid with the descriptors openChFds hands out opens the
// files through /proc/self/fd/N as cloud-hypervisor does (kernel, disk, its
// directory, a lent staging directory, a restore link), and not by path.

#include "core/vmm/chvmmfiles.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace Vmm;

namespace {

constexpr int kWaitMs = 10000;
constexpr mode_t kPermissionBits = 07777;

VmmCredentials someUser()
{
    VmmCredentials c;
    c.user = QStringLiteral("vmmtest");
    c.uid = 4242;
    c.gid = 4343;
    c.groups = {4343, 108};
    return c;
}

bool writeFile(const QString &path, const QByteArray &data, mode_t mode)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(data) != data.size())
        return false;
    f.close();
    return ::chmod(QFile::encodeName(path).constData(), mode) == 0;
}

struct stat statOf(const QString &path)
{
    struct stat st { };
    ::lstat(QFile::encodeName(path).constData(), &st);
    return st;
}

// Runs `script` in /bin/sh as `creds`, with `fds` inherited; its output.
QByteArray runAs(const VmmCredentials &creds, const QList<int> &fds, const QString &script, const QString &log)
{
    VmmProcess p(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), script}, log);
    p.setInheritedFds(fds);
    p.setCredentials(creds);
    QSignalSpy finished(&p, &VmmProcess::finished);
    p.start();
    if (!finished.wait(kWaitMs) && finished.isEmpty())
        return "timed out";
    QFile out(log);
    return out.open(QIODevice::ReadOnly) ? out.readAll() : QByteArray("no log");
}

} // namespace

class TestChVmmFiles : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void accessGrant_data()
    {
        QTest::addColumn<uint>("owner");
        QTest::addColumn<uint>("group");
        QTest::addColumn<uint>("mode");
        QTest::addColumn<bool>("write");
        QTest::addColumn<bool>("changes");
        QTest::addColumn<uint>("newGroup");
        QTest::addColumn<uint>("newMode");
        // The image cache's kernel: others read it already.
        QTest::newRow("0644 read") << 0u << 0u << 0644u << false << false << 0u << 0u;
        // A VM's disk, the service's own: its group becomes the VMM user's.
        QTest::newRow("0600 read") << 0u << 0u << 0600u << false << true << 4343u << 0640u;
        QTest::newRow("0600 write") << 0u << 0u << 0600u << true << true << 4343u << 0660u;
        QTest::newRow("0644 write") << 0u << 0u << 0644u << true << true << 4343u << 0664u;
        QTest::newRow("0604 write") << 0u << 0u << 0604u << true << true << 4343u << 0664u;
        // A supplementary group of the VMM user that may write already.
        QTest::newRow("group 108 0660 write") << 0u << 108u << 0660u << true << false << 0u << 0u;
        QTest::newRow("group 108 0640 write") << 0u << 108u << 0640u << true << true << 4343u << 0660u;
        // Written by the VMM (a snapshot's files): the owner bits count.
        QTest::newRow("VMM's 0200 read") << 4242u << 4343u << 0200u << false << true << 4343u << 0600u;
        QTest::newRow("VMM's 0644 read") << 4242u << 4343u << 0644u << false << false << 0u << 0u;
        // Setuid and sticky bits are kept as they were.
        QTest::newRow("sticky 01600 write") << 0u << 0u << 01600u << true << true << 4343u << 01660u;
    }

    void accessGrant()
    {
        QFETCH(uint, owner);
        QFETCH(uint, group);
        QFETCH(uint, mode);
        QFETCH(bool, write);
        QFETCH(bool, changes);
        QFETCH(uint, newGroup);
        QFETCH(uint, newMode);
        const auto grant = Vmm::accessGrant(someUser(), owner, group, mode, write);
        QCOMPARE(grant.has_value(), changes);
        if (!grant)
            return;
        QCOMPARE(uint(grant->group), newGroup);
        QCOMPARE(uint(grant->mode), newMode);
        // What the grant leaves is what the VMM user needs.
        QVERIFY(write ? mayReadWrite(someUser(), owner, grant->group, grant->mode) : mayRead(someUser(), owner, grant->group, grant->mode));
    }

    void lentDirectories()
    {
        QCOMPARE(lentDirOwnership(someUser(), 0, 0, true), (DirOwnership{4242, 4343, 0700}));
        QCOMPARE(lentDirOwnership(someUser(), 0, 0, false), (DirOwnership{0, 0, 0700}));
        QCOMPARE(lentDirOwnership(someUser(), 1000, 1001, false), (DirOwnership{1000, 1001, 0700}));
        QCOMPARE(kChVmmDirMode, mode_t(0700));
        // The state directory: the VMM user may look a name up, not list or write.
        QVERIFY(!mayRead(someUser(), 0, someUser().gid, kChStateDirMode));
        QCOMPARE(kChStateDirMode & 0070, mode_t(0010));
    }

    // As root: the files openChFds hands out, as a process of another uid
    // uses them through /proc/self/fd (cloud-hypervisor's paths).
    void theVmmReachesItsFilesByDescriptorOnly()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to change owners and uids");
        QTemporaryDir dir; // 0700, root's: nothing in it is reachable by path for uid 4242
        QVERIFY(dir.isValid());
        const QDir d(dir.path());
        VmSpec spec;
        spec.name = QStringLiteral("vm1");
        spec.kernelPath = d.filePath(QStringLiteral("vmlinuz"));
        spec.initramfsPath = d.filePath(QStringLiteral("initramfs"));
        spec.runtimeDir = d.filePath(QStringLiteral("run"));
        spec.stateDir = d.filePath(QStringLiteral("snapshots"));
        spec.disks = {DiskSpec{d.filePath(QStringLiteral("vm1.disk")), QStringLiteral("raw"), false}};
        QVERIFY(d.mkpath(QStringLiteral("run")));
        QVERIFY(writeFile(spec.kernelPath, "kernel\n", 0644));
        QVERIFY(writeFile(spec.initramfsPath, "initramfs\n", 0644));
        QVERIFY(writeFile(spec.disks.first().path, "disk\n", 0600));

        HeldFds held;
        const auto fds = openChFds(spec, someUser(), held);
        QVERIFY2(fds, fds ? "" : qPrintable(fds.error().message));
        QCOMPARE(fds->disks.size(), 1);
        const struct stat vmmDir = statOf(ChVmConfig::vmmDir(spec));
        QCOMPARE(vmmDir.st_uid, uid_t(4242));
        QCOMPARE(vmmDir.st_mode & kPermissionBits, kChVmmDirMode);
        const struct stat state = statOf(spec.stateDir);
        QCOMPARE(state.st_uid, uid_t(0));
        QCOMPARE(state.st_gid, gid_t(4343));
        QCOMPARE(state.st_mode & kPermissionBits, kChStateDirMode);
        const struct stat disk = statOf(spec.disks.first().path);
        QCOMPARE(disk.st_gid, gid_t(4343));
        QCOMPARE(disk.st_mode & kPermissionBits, mode_t(0660));

        const QString staging = QDir(spec.stateDir).filePath(QStringLiteral(".staging-snap-1"));
        QVERIFY(QDir().mkpath(staging));
        QVERIFY(lendDirectory(staging, someUser(), true));
        const QString script = QStringLiteral("cat %1 %2; echo written 1<>%3 && cat %3; mkdir %4 && echo vmm dir; "
                                              "touch %5 && echo staging; touch %6 2>/dev/null || echo no state write; "
                                              "ls %7 >/dev/null 2>&1 || echo no state list; cat %8 2>/dev/null || echo no path")
                                   .arg(ChVmConfig::procFdPath(fds->kernel), ChVmConfig::procFdPath(fds->initramfs), ChVmConfig::procFdPath(fds->disks.first()),
                                        ChVmConfig::procFdPath(fds->vmmDir, QStringLiteral("sockets")),
                                        ChVmConfig::procFdPath(fds->stateDir, QStringLiteral(".staging-snap-1/state.json")),
                                        ChVmConfig::procFdPath(fds->stateDir, QStringLiteral("evil")), ChVmConfig::procFdPath(fds->stateDir), spec.kernelPath);
        const QByteArray out = runAs(someUser(), fds->all(), script, d.filePath(QStringLiteral("probe.log")));
        QCOMPARE(out, QByteArray("kernel\ninitramfs\nwritten\nvmm dir\nstaging\nno state write\nno state list\nno path\n"));
        QVERIFY(lendDirectory(staging, someUser(), false));
        QCOMPARE(statOf(staging).st_uid, uid_t(0));
        QCOMPARE(statOf(staging).st_mode & kPermissionBits, mode_t(0700));
        QCOMPARE(statOf(QDir(staging).filePath(QStringLiteral("state.json"))).st_uid, uid_t(4242));
    }

    // A restore: the snapshot's files (one the VMM wrote, one the service
    // did) read through links to /proc/self/fd/N in the VMM's directory.
    void theVmmReadsARestoreThroughLinks()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to change owners and uids");
        QTemporaryDir dir;
        const QDir d(dir.path());
        QVERIFY(writeFile(d.filePath(QStringLiteral("state.json")), "{\"state\":1}\n", 0600));
        QVERIFY(writeFile(d.filePath(QStringLiteral("memory-ranges")), "memory\n", 0600));
        QVERIFY(::chown(QFile::encodeName(d.filePath(QStringLiteral("memory-ranges"))).constData(), 4242, 4343) == 0);
        QVERIFY(d.mkpath(QStringLiteral("vmm/restore")));
        QVERIFY(prepareChVmmDir(d.filePath(QStringLiteral("vmm")), someUser()));
        HeldFds held;
        ChVmConfig::PassedFds fds;
        QVERIFY(openChRestoreFds(dir.path(), someUser(), held, fds));
        QCOMPARE(statOf(d.filePath(QStringLiteral("state.json"))).st_mode & kPermissionBits, mode_t(0640));
        QCOMPARE(statOf(d.filePath(QStringLiteral("memory-ranges"))).st_gid, gid_t(4343)); // untouched: the VMM's
        QCOMPARE(statOf(d.filePath(QStringLiteral("memory-ranges"))).st_mode & kPermissionBits, mode_t(0600));
        const QString restore = d.filePath(QStringLiteral("vmm/restore"));
        QVERIFY(::chmod(QFile::encodeName(restore).constData(), 0755) == 0);
        QVERIFY(QFile::link(ChVmConfig::procFdPath(fds.restoreState), QDir(restore).filePath(QStringLiteral("state.json"))));
        QVERIFY(QFile::link(ChVmConfig::procFdPath(fds.restoreMemory), QDir(restore).filePath(QStringLiteral("memory-ranges"))));
        const int vmmDir = held.keep(::open(QFile::encodeName(d.filePath(QStringLiteral("vmm"))).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        QVERIFY(vmmDir >= 0);
        const QString script = QStringLiteral("cat %1/state.json %1/memory-ranges").arg(ChVmConfig::procFdPath(vmmDir, QStringLiteral("restore")));
        const QByteArray out = runAs(someUser(), fds.all() + QList<int>{vmmDir}, script, d.filePath(QStringLiteral("probe.log")));
        QCOMPARE(out, QByteArray("{\"state\":1}\nmemory\n"));
    }

    void aKernelOthersCannotReadIsRefused()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to change owners");
        QTemporaryDir dir;
        const QDir d(dir.path());
        VmSpec spec;
        spec.kernelPath = d.filePath(QStringLiteral("vmlinuz"));
        spec.runtimeDir = dir.path();
        QVERIFY(writeFile(spec.kernelPath, "kernel\n", 0600));
        HeldFds held;
        const auto fds = openChFds(spec, someUser(), held);
        QVERIFY(!fds);
        QCOMPARE(fds.error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY2(fds.error().message.contains(QLatin1String("readable by others")), qPrintable(fds.error().message));
        QCOMPARE(statOf(spec.kernelPath).st_mode & kPermissionBits, mode_t(0600)); // not regranted
    }
};

QTEST_GUILESS_MAIN(TestChVmmFiles)
#include "tst_chvmmfiles.moc"
