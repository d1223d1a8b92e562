// Who a VMM runs as: the decision (a root service's VMMs run as the VMM
// user, which must exist), the privilege drop in VmmProcess (as a child and
// detached), and what a VMM of another uid is handed instead of paths.

#include "core/vmm/detachedvmm.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmmfiles.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr int kWaitMs = 10000;

Vmm::VmmCredentials someUser()
{
    Vmm::VmmCredentials c;
    c.user = QStringLiteral("vmmtest");
    c.uid = 4242;
    c.gid = 4343;
    c.groups = {4343, 108};
    return c;
}

// A qcow2 v3 header (104 bytes), a backing-format extension, then the name.
QByteArray qcow2Head(const QByteArray &backing, const QByteArray &format)
{
    QByteArray h(104, '\0');
    qToBigEndian<quint32>(0x514649fb, h.data());
    qToBigEndian<quint32>(3, h.data() + 4);
    qToBigEndian<quint32>(104, h.data() + 100);
    if (!format.isEmpty()) {
        QByteArray ext(8, '\0');
        qToBigEndian<quint32>(0xe2792aca, ext.data());
        qToBigEndian<quint32>(quint32(format.size()), ext.data() + 4);
        ext += format;
        ext.append((8 - format.size() % 8) % 8, '\0');
        h += ext;
    }
    h += QByteArray(8, '\0'); // end of extensions
    if (!backing.isEmpty()) {
        qToBigEndian<quint64>(quint64(h.size()), h.data() + 8);
        qToBigEndian<quint32>(quint32(backing.size()), h.data() + 16);
        h += backing;
    }
    return h;
}

} // namespace

class TestVmmCredentials : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void aServiceThatIsNotRootKeepsItsOwnUid()
    {
        const auto d = Vmm::decideVmmCredentials(1000, QString::fromLatin1(Vmm::kVmmUser), someUser());
        QVERIFY(d);
        QVERIFY(!d->has_value());
    }

    void aRootServiceRunsItsVmmsAsTheVmmUser()
    {
        const auto d = Vmm::decideVmmCredentials(0, QString::fromLatin1(Vmm::kVmmUser), someUser());
        QVERIFY(d);
        QVERIFY(d->has_value());
        QCOMPARE((*d)->uid, uid_t(4242));
        QCOMPARE((*d)->gid, gid_t(4343));
    }

    // No fallback to root or nobody: the error names the user and how to make it.
    void aMissingVmmUserIsAnErrorThatSaysHowToCreateIt()
    {
        const auto d = Vmm::decideVmmCredentials(0, QString::fromLatin1(Vmm::kVmmUser), std::nullopt);
        QVERIFY(!d);
        QCOMPARE(d.error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY(d.error().message.contains(QLatin1String(Vmm::kVmmUser)));
        QVERIFY(d.error().message.contains(QLatin1String("scripts/setup.sh deps")));
        QVERIFY(d.error().message.contains(QLatin1String("useradd --system")));
    }

    void aVmmUserThatIsRootIsRefused()
    {
        Vmm::VmmCredentials root = someUser();
        root.uid = 0;
        QVERIFY(!Vmm::decideVmmCredentials(0, QString::fromLatin1(Vmm::kVmmUser), root));
        root.uid = 4242;
        root.gid = 0;
        QVERIFY(!Vmm::decideVmmCredentials(0, QString::fromLatin1(Vmm::kVmmUser), root));
    }

    // shadow-utils' format; comments, blank and broken lines are skipped.
    void subordinateIdsAreParsed()
    {
        const QByteArray text = "# reserved\n\nalice:100000:65536\n  vmmtest:165536:65536  \n4242:300000:10\n"
                                "broken\nbob:x:10\ncarol:1:2:3\n:5:5\n";
        const QList<Vmm::SubIdRange> r = Vmm::parseSubIds(text);
        QCOMPARE(r.size(), 3);
        QCOMPARE(r.at(1).owner, QStringLiteral("vmmtest"));
        QCOMPARE(r.at(1).first, quint64(165536));
        QCOMPARE(r.at(1).count, quint64(65536));
        QCOMPARE(Vmm::subIdRangeOf(r, QStringLiteral("vmmtest"), 4242)->first, quint64(165536)); // by name first
        QCOMPARE(Vmm::subIdRangeOf(r, QStringLiteral("other"), 4242)->first, quint64(300000)); // then by uid
        QVERIFY(!Vmm::subIdRangeOf(r, QStringLiteral("other"), 7));
    }

    // Its own uid and gid: the same offset in both ranges, stable for a
    // VM's name, different for another's, never the VMM user's groups but
    // its supplementary ones (kvm).
    void eachVmGetsItsOwnIdentityInTheRange()
    {
        const QByteArray subuid = "vmmtest:200000:65536\n", subgid = "vmmtest:300000:65536\n";
        const auto a = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {}, 0);
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        QVERIFY(a->uid >= 200000 && a->uid < 265536);
        QCOMPARE(a->gid - 300000, a->uid - 200000);
        QCOMPARE(a->user, QStringLiteral("vmmtest"));
        QCOMPARE(a->groups, (QList<gid_t>{a->gid, 108})); // not 4343, the VMM user's own group
        const auto again = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {}, 0);
        QCOMPARE(again->uid, a->uid);
        const auto b = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-b"), {}, 0);
        QVERIFY(b->uid != a->uid);
        QVERIFY(Vmm::describe(*a).contains(QString::number(a->uid)));
    }

    // A uid in use (a live process, the service, the VMM user itself)
    // is skipped for the next one, wrapping around the range's end.
    void usedUidsAreProbedPast()
    {
        const QByteArray subuid = "vmmtest:200000:4\n", subgid = "vmmtest:300000:4\n";
        const auto first = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {}, 0);
        QVERIFY(first);
        const uid_t next = 200000 + (first->uid - 200000 + 1) % 4;
        const auto probed = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {first->uid}, 0);
        QCOMPARE(probed->uid, next);
        QCOMPARE(probed->gid, gid_t(next + 100000));
        QCOMPARE(Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {}, first->uid)->uid, next); // the service's
        QVERIFY(!Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {200000, 200001, 200002, 200003}, 0));
        // a range holding the VMM user's own uid, or 0: never those
        const auto own = Vmm::chooseVmIdentity(someUser(), "vmmtest:4242:1\n", "vmmtest:500:1\n", QStringLiteral("vm-a"), {}, 0);
        QVERIFY(!own);
        QVERIFY(!Vmm::chooseVmIdentity(someUser(), "vmmtest:0:1\n", "vmmtest:500:1\n", QStringLiteral("vm-a"), {}, 0));
        QCOMPARE(Vmm::chooseVmIdentity(someUser(), "vmmtest:0:2\n", "vmmtest:500:2\n", QStringLiteral("vm-a"), {}, 0)->uid, uid_t(1));
    }

    // No range: an error naming the command that adds one, no fallback.
    void noSubordinateRangeIsAnErrorThatSaysHowToAddOne()
    {
        for (const auto &[subuid, subgid] :
             {std::pair<QByteArray, QByteArray>{"", "vmmtest:300000:65536\n"}, std::pair<QByteArray, QByteArray>{"vmmtest:200000:65536\n", "alice:1:2\n"},
              std::pair<QByteArray, QByteArray>{"vmmtest:200000:0\n", "vmmtest:300000:65536\n"},
              std::pair<QByteArray, QByteArray>{"vmmtest:4294967295:2\n", "vmmtest:300000:65536\n"}}) {
            const auto c = Vmm::chooseVmIdentity(someUser(), subuid, subgid, QStringLiteral("vm-a"), {}, 0);
            QVERIFY(!c);
            QCOMPARE(c.error().code, Core::ErrorCode::PermissionDenied);
            QVERIFY2(c.error().message.contains(QLatin1String("scripts/setup.sh deps")), qPrintable(c.error().message));
            QVERIFY(c.error().message.contains(QLatin1String("vmmtest")));
        }
    }

    void uidsInUseComeFromProcStatus()
    {
        QTemporaryDir proc;
        const auto status = [&proc](const QString &pid, const QByteArray &text) {
            QVERIFY(QDir(proc.path()).mkpath(pid));
            QFile f(proc.filePath(pid + QStringLiteral("/status")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        };
        status(QStringLiteral("12"), "Name:\tqemu\nUid:\t200001\t200001\t200001\t200001\nGid:\t7\t7\t7\t7\n");
        status(QStringLiteral("13"), "Name:\tx\nUid:\t5\t6\t5\t5\n");
        status(QStringLiteral("self"), "Uid:\t99\t99\t99\t99\n"); // not a pid
        status(QStringLiteral("14"), "garbage");
        QCOMPARE(Vmm::uidsInUse(proc.path()), (QSet<uid_t>{200001, 5, 6}));
        QVERIFY(Vmm::uidsInUse().contains(::getuid())); // this process, in the real /proc
    }

    void lookUpFindsRootAndNotAMissingUser()
    {
        const auto root = Vmm::lookUpUser(QStringLiteral("root"));
        QVERIFY(root);
        QCOMPARE(root->uid, uid_t(0));
        QVERIFY(root->groups.contains(gid_t(0)));
        QVERIFY(!Vmm::lookUpUser(QStringLiteral("no-such-user-mvs-test")));
    }

    void permissionBitsDecideByOwnerGroupOther()
    {
        const Vmm::VmmCredentials c = someUser();
        QVERIFY(Vmm::mayRead(c, 0, 0, 0644));
        QVERIFY(!Vmm::mayRead(c, 0, 0, 0640));
        QVERIFY(Vmm::mayRead(c, 0, 108, 0640)); // a supplementary group
        QVERIFY(Vmm::mayReadWrite(c, 0, 108, 0660));
        QVERIFY(!Vmm::mayReadWrite(c, 0, 0, 0600));
        QVERIFY(Vmm::mayReadWrite(c, 4242, 0, 0600));
        QVERIFY(!Vmm::mayRead(c, 4242, 0, 0044)); // the owner's bits apply to the owner
    }

    void kvmCountsOnlyIfTheVmmUserMayOpenIt()
    {
        QTemporaryDir dir;
        const QString device = dir.filePath(QStringLiteral("kvm"));
        QFile f(device);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        QVERIFY(::chmod(QFile::encodeName(device).constData(), 0600) == 0);
        const Vmm::KvmStatus usable{true, QString()};
        QVERIFY(Vmm::kvmStatusFor(usable, std::nullopt, device).usable);
        const Vmm::KvmStatus denied = Vmm::kvmStatusFor(usable, someUser(), device);
        QVERIFY(!denied.usable);
        QVERIFY(denied.reason.contains(QLatin1String("vmmtest")));
        QVERIFY(::chmod(QFile::encodeName(device).constData(), 0666) == 0);
        QVERIFY(Vmm::kvmStatusFor(usable, someUser(), device).usable);
    }

    // TCG because the VMM user may not open /dev/kvm: kept as a verdict a
    // person can read (a first run leaves one, as the boot probe does), and
    // gone once the user may open it.
    void theVmmUsersKvmDecisionIsKept()
    {
        QTemporaryDir dir;
        qputenv("MVS_RUNTIME_DIR", dir.filePath(QStringLiteral("run")).toUtf8());
        const QString verdict = Vmm::kvmVmmUserVerdictPath();
        QCOMPARE(verdict, dir.filePath(QStringLiteral("run/probes/kvm-vmm-user")));
        const Vmm::KvmStatus usable{true, QString()};
        const Vmm::KvmStatus denied{false, QStringLiteral("the VMM user vmmtest may not open /dev/kvm")};
        Vmm::keepKvmVmmUserVerdict(usable, usable);
        QVERIFY(!QFile::exists(verdict));
        Vmm::keepKvmVmmUserVerdict(usable, denied);
        QFile f(verdict);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("tcg: the VMM user vmmtest may not open /dev/kvm\n"));
        f.close();
        Vmm::keepKvmVmmUserVerdict(usable, usable);
        QVERIFY(!QFile::exists(verdict));
        // No KVM on the host at all: not the VMM user's doing, nothing kept.
        const Vmm::KvmStatus none{false, QStringLiteral("/dev/kvm does not exist")};
        Vmm::keepKvmVmmUserVerdict(none, none);
        QVERIFY(!QFile::exists(verdict));
        qunsetenv("MVS_RUNTIME_DIR");
    }

    void qcow2BackingIsReadFromTheHeader()
    {
        auto b = Vmm::parseQcow2Backing(qcow2Head("/cache/images/rootfs-1/root.img", "raw"), QStringLiteral("/data"));
        QVERIFY(b);
        QVERIFY(b->has_value());
        QCOMPARE((*b)->path, QStringLiteral("/cache/images/rootfs-1/root.img"));
        QCOMPARE((*b)->format, QStringLiteral("raw"));
        b = Vmm::parseQcow2Backing(qcow2Head("base.qcow2", "qcow2"), QStringLiteral("/data"));
        QVERIFY(b && b->has_value());
        QCOMPARE((*b)->path, QStringLiteral("/data/base.qcow2"));
        QCOMPARE((*b)->format, QStringLiteral("qcow2"));
        b = Vmm::parseQcow2Backing(qcow2Head("/base.img", QByteArray()), QStringLiteral("/data"));
        QVERIFY(b && b->has_value());
        QCOMPARE((*b)->format, QStringLiteral("raw"));
        b = Vmm::parseQcow2Backing(qcow2Head(QByteArray(), QByteArray()), QStringLiteral("/data"));
        QVERIFY(b && !b->has_value());
    }

    void badQcow2HeadersAreRefused()
    {
        QVERIFY(!Vmm::parseQcow2Backing(QByteArray("not a qcow2 image at all, just some bytes"), QString()));
        QByteArray truncated = qcow2Head("/cache/base.img", "raw");
        truncated.chop(4);
        QVERIFY(!Vmm::parseQcow2Backing(truncated, QString()));
        QByteArray huge = qcow2Head("/cache/base.img", "raw");
        qToBigEndian<quint64>(quint64(1) << 40, huge.data() + 8);
        QVERIFY(!Vmm::parseQcow2Backing(huge, QString()));
    }

    // What qemu-img itself writes.
    void qcow2BackingOfARealOverlay()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("qemu-img")).isEmpty())
            QSKIP("qemu-img is not installed");
        QTemporaryDir dir;
        const QString base = dir.filePath(QStringLiteral("base.raw")), overlay = dir.filePath(QStringLiteral("root.qcow2"));
        QFile f(base);
        QVERIFY(f.open(QIODevice::WriteOnly) && f.resize(1 << 20));
        f.close();
        QCOMPARE(QProcess::execute(QStringLiteral("qemu-img"),
                                   QStringList{QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"), QStringLiteral("qcow2"),
                                               QStringLiteral("-F"), QStringLiteral("raw"), QStringLiteral("-b"), base, overlay}),
                 0);
        QFile o(overlay);
        QVERIFY(o.open(QIODevice::ReadOnly));
        const auto b = Vmm::parseQcow2Backing(o.read(64 * 1024), dir.path());
        QVERIFY2(b, b ? "" : qPrintable(b.error().message));
        QVERIFY(b->has_value());
        QCOMPARE((*b)->path, base);
        QCOMPARE((*b)->format, QStringLiteral("raw"));
    }

    // /proc/self/fd/N checks the file's mode against the VMM user: refused
    // here, with a message, rather than by QEMU.
    void aKernelTheVmmUserCannotReadIsRefused()
    {
        QTemporaryDir dir;
        Vmm::VmSpec spec;
        spec.name = QStringLiteral("vm1");
        spec.kernelPath = dir.filePath(QStringLiteral("vmlinuz"));
        spec.runtimeDir = dir.path();
        QFile k(spec.kernelPath);
        QVERIFY(k.open(QIODevice::WriteOnly));
        k.close();
        QVERIFY(::chmod(QFile::encodeName(spec.kernelPath).constData(), 0600) == 0);
        Vmm::HeldFds held;
        auto fds = Vmm::openQemuFds(spec, someUser(), held);
        QVERIFY(!fds);
        QCOMPARE(fds.error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY(fds.error().message.contains(QLatin1String("vmmtest")));
        QVERIFY(::chmod(QFile::encodeName(spec.kernelPath).constData(), 0644) == 0);
        fds = Vmm::openQemuFds(spec, someUser(), held);
        QVERIFY2(fds, fds ? "" : qPrintable(fds.error().message));
        QVERIFY(fds->kernel >= 0 && fds->qmpSocket >= 0 && fds->agentSocket >= 0);
        QCOMPARE(fds->consoleSocket, -1); // no console log in this spec
        QVERIFY(QFileInfo(QDir(dir.path()).filePath(QStringLiteral("qmp.sock"))).exists());
    }

    void aChildDropsToTheCredentials_data()
    {
        QTest::addColumn<bool>("persistent");
        QTest::newRow("child") << false;
        QTest::newRow("detached") << true;
    }
    // As root: the process runs as the given uid, gid and groups, and keeps
    // the descriptors it was given.
    void aChildDropsToTheCredentials()
    {
        QFETCH(bool, persistent);
        if (::geteuid() != 0)
            QSKIP("needs root to change uid");
        QTemporaryDir dir;
        QVERIFY(::chmod(QFile::encodeName(dir.path()).constData(), 0755) == 0);
        const QString log = dir.filePath(QStringLiteral("out.log"));
        QFile secret(dir.filePath(QStringLiteral("given")));
        QVERIFY(secret.open(QIODevice::WriteOnly));
        secret.write("given by descriptor\n");
        secret.close();
        QVERIFY(::chmod(QFile::encodeName(secret.fileName()).constData(), 0600) == 0);
        const int fd = ::open(QFile::encodeName(secret.fileName()).constData(), O_RDONLY | O_CLOEXEC);
        QVERIFY(fd >= 0);
        const QString script =
            QStringLiteral("echo ids $(id -u) $(id -g) $(id -G); cat <&%1; cat %2 2>/dev/null || echo denied").arg(fd).arg(secret.fileName());
        Vmm::VmmProcess p(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), script}, log);
        p.setPersistent(persistent);
        p.setInheritedFds({fd});
        p.setCredentials(someUser());
        QSignalSpy finished(&p, &Vmm::VmmProcess::finished);
        auto started = p.start();
        ::close(fd);
        QVERIFY(finished.wait(kWaitMs) || !finished.isEmpty());
        QFile out(log);
        QVERIFY(out.open(QIODevice::ReadOnly));
        const QByteArray text = out.readAll();
        QVERIFY2(text.contains("ids 4242 4343 4343 108\n"), text.constData());
        QVERIFY2(text.contains("given by descriptor\ndenied\n"), text.constData());
    }
};

QTEST_GUILESS_MAIN(TestVmmCredentials)
#include "tst_vmmcredentials.moc"
