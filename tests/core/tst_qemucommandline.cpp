// Golden-file tests for the QEMU config builder: the exact command line for
// representative specs. Regenerate with MVS_UPDATE_GOLDEN=1 after an
// intended change and review the diff.

#include "core/vmm/qemucommandline.h"

#include <QFile>
#include <QTest>

using Vmm::QemuCommandLine::Accel;

class TestQemuCommandLine : public QObject {
    Q_OBJECT

    static Vmm::VmSpec baseSpec()
    {
        Vmm::VmSpec s;
        s.name = QStringLiteral("vm1");
        s.vcpus = 1;
        s.memoryMiB = 256;
        s.kernelPath = QStringLiteral("/cache/images/k/vmlinuz");
        s.initramfsPath = QStringLiteral("/cache/images/k/initramfs.cpio");
        s.kernelCmdline = QStringLiteral("quiet mvs.hostname=vm1");
        s.runtimeDir = QStringLiteral("/run/mvs/vm1-abc");
        s.consoleLogPath = QStringLiteral("/run/mvs/vm1-abc/console.log");
        return s;
    }

    // Descriptors as QemuInstance opens them for a QEMU running as the VMM
    // user: two disks, the first a qcow2 overlay over a raw base.
    static Vmm::QemuCommandLine::PassedFds passedFds()
    {
        Vmm::QemuCommandLine::PassedFds f;
        f.kernel = 10;
        f.initramfs = 11;
        f.qmpSocket = 12;
        f.agentSocket = 13;
        f.consoleSocket = 14;
        f.extraPortSockets = {15};
        f.disks = {Vmm::QemuCommandLine::PassedFds::Disk{16, 17, QStringLiteral("raw")}, Vmm::QemuCommandLine::PassedFds::Disk{18, -1, QString()}};
        return f;
    }

    static void compareGolden(const QStringList &args, const QString &name)
    {
        const QString path = QStringLiteral(MVS_TEST_DATA_DIR "/qemu/") + name;
        const QByteArray actual = args.join(QLatin1Char('\n')).toUtf8() + '\n';
        if (qEnvironmentVariableIsSet("MVS_UPDATE_GOLDEN")) {
            QFile out(path);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(actual);
        }
        QFile f(path);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
        const QList<QByteArray> expected = f.readAll().split('\n');
        const QList<QByteArray> got = actual.split('\n');
        for (int i = 0; i < qMin(expected.size(), got.size()); ++i)
            QCOMPARE(got.at(i), expected.at(i));
        QCOMPARE(got.size(), expected.size());
    }

private Q_SLOTS:
    void golden_data()
    {
        QTest::addColumn<QString>("golden");
        QTest::addColumn<int>("variant");
        QTest::newRow("minimal-tcg") << QStringLiteral("minimal-tcg.args") << 0;
        QTest::newRow("kvm-4cpu-2g") << QStringLiteral("kvm-4cpu-2g.args") << 1;
        QTest::newRow("disks-pc") << QStringLiteral("disks-pc.args") << 2;
        QTest::newRow("incoming") << QStringLiteral("incoming-tcg.args") << 3;
        QTest::newRow("passed-fds") << QStringLiteral("passed-fds.args") << 4;
        QTest::newRow("nic") << QStringLiteral("nic-tcg.args") << 5;
        QTest::newRow("nic-incoming-passed-fds") << QStringLiteral("nic-incoming-passed-fds.args") << 6;
        QTest::newRow("vcpu-hotplug") << QStringLiteral("vcpu-hotplug-tcg.args") << 7;
    }
    void golden()
    {
        QFETCH(QString, golden);
        QFETCH(int, variant);
        Vmm::VmSpec s = baseSpec();
        Accel accel = Accel::Tcg;
        if (variant == 1) {
            s.vcpus = 4;
            s.memoryMiB = 2048;
            accel = Accel::Kvm;
        } else if (variant == 2) {
            s.machine = QStringLiteral("pc");
            s.disks << Vmm::DiskSpec{QStringLiteral("/data/root.raw"), QStringLiteral("raw"), true}
                    << Vmm::DiskSpec{QStringLiteral("/data/overlay.qcow2"), QStringLiteral("qcow2"), false};
        }
        if (variant == 7) {
            s.vcpus = 2;
            s.maxVcpus = 4;
        }
        std::optional<Vmm::QemuCommandLine::PassedFds> fds;
        if (variant == 5 || variant == 6)
            s.nic = Vmm::NicSpec{variant == 5 ? 21 : 22, QStringLiteral("0A:1b:2c:3d:4e:5f")};
        if (variant == 6)
            fds = passedFds();
        if (variant == 4) {
            s.disks << Vmm::DiskSpec{QStringLiteral("/data/root.qcow2"), QStringLiteral("qcow2"), false}
                    << Vmm::DiskSpec{QStringLiteral("/data/scratch.raw"), QStringLiteral("raw"), true};
            s.extraSerialPorts << QStringLiteral("peer");
            fds = passedFds();
        }
        QVERIFY(Vmm::QemuCommandLine::validate(s));
        // Loading a saved state: the same machine, waiting for the state
        // (-incoming defer), so only the end differs from a fresh boot.
        const auto boot = variant == 3 || variant == 6 ? Vmm::QemuCommandLine::Boot::Incoming : Vmm::QemuCommandLine::Boot::Fresh;
        compareGolden(Vmm::QemuCommandLine::build(s, accel, boot, fds), golden);
    }

    // A QEMU running as the VMM user opens no path of the spec's: it gets
    // descriptors (and /dev/urandom, which anyone may read).
    void passedFdsNameNoPathOfTheSpec()
    {
        Vmm::VmSpec s = baseSpec();
        s.disks << Vmm::DiskSpec{QStringLiteral("/data/root.qcow2"), QStringLiteral("qcow2"), false}
                << Vmm::DiskSpec{QStringLiteral("/data/scratch.raw"), QStringLiteral("raw"), true};
        s.extraSerialPorts << QStringLiteral("peer");
        const QString line = Vmm::QemuCommandLine::build(s, Accel::Tcg, Vmm::QemuCommandLine::Boot::Fresh, passedFds()).join(QLatin1Char(' '));
        for (const QString &path : {s.kernelPath, s.initramfsPath, s.runtimeDir, QStringLiteral("/data/")})
            QVERIFY2(!line.contains(path), qPrintable(path));
        QCOMPARE(passedFds().all(), (QList<int>{10, 11, 12, 13, 14, 15, 16, 17, 18}));
    }

    // The tap is inherited whether or not QEMU gets the other files as
    // descriptors (a service that is not root opens a tap too, when it may).
    void theTapIsInheritedWithOrWithoutPassedFds()
    {
        Vmm::VmSpec s = baseSpec();
        QCOMPARE(Vmm::QemuCommandLine::inheritedFds(s, std::nullopt), QList<int>());
        s.nic = Vmm::NicSpec{30, QStringLiteral("0a:00:00:00:00:01")};
        QCOMPARE(Vmm::QemuCommandLine::inheritedFds(s, std::nullopt), QList<int>{30});
        QCOMPARE(Vmm::QemuCommandLine::inheritedFds(s, passedFds()), (QList<int>{10, 11, 12, 13, 14, 15, 16, 17, 18, 30}));
    }

    void incomingDiffersOnlyByWaitingForState()
    {
        const QStringList fresh = Vmm::QemuCommandLine::build(baseSpec(), Accel::Tcg);
        const QStringList incoming = Vmm::QemuCommandLine::build(baseSpec(), Accel::Tcg, Vmm::QemuCommandLine::Boot::Incoming);
        QCOMPARE(incoming, fresh + (QStringList{QStringLiteral("-incoming"), QStringLiteral("defer")}));
    }

    void kernelCmdlineEndsQemuOnPoweroffAndPanic()
    {
        const QString c = Vmm::QemuCommandLine::kernelCmdline(baseSpec());
        QVERIFY(c.startsWith(QLatin1String("quiet mvs.hostname=vm1 ")));
        QVERIFY(c.contains(QLatin1String("console=ttyS0")));
        QVERIFY(c.contains(QLatin1String("reboot=t")));
        QVERIFY(c.contains(QLatin1String("panic=-1")));
    }

    void socketsLiveInTheRuntimeDir()
    {
        QCOMPARE(Vmm::QemuCommandLine::qmpSocketPath(baseSpec()), QStringLiteral("/run/mvs/vm1-abc/qmp.sock"));
        QCOMPARE(Vmm::QemuCommandLine::agentSocketPath(baseSpec()), QStringLiteral("/run/mvs/vm1-abc/agent.sock"));
    }

    void validationRejectsBadSpecs_data()
    {
        QTest::addColumn<int>("which");
        QTest::newRow("no kernel") << 0;
        QTest::newRow("zero vcpus") << 1;
        QTest::newRow("tiny memory") << 2;
        QTest::newRow("comma in path") << 3;
        QTest::newRow("long runtime dir") << 4;
        QTest::newRow("bad disk format") << 5;
        QTest::newRow("bad port name") << 6;
        QTest::newRow("port name with newline") << 7;
        QTest::newRow("nic without tap") << 8;
        QTest::newRow("nic multicast mac") << 9;
        QTest::newRow("nic short mac") << 10;
        QTest::newRow("nic mac with comma") << 11;
    }
    void validationRejectsBadSpecs()
    {
        QFETCH(int, which);
        Vmm::VmSpec s = baseSpec();
        switch (which) {
        case 0: s.kernelPath.clear(); break;
        case 1: s.vcpus = 0; break;
        case 2: s.memoryMiB = 16; break;
        case 3: s.kernelPath = QStringLiteral("/a,b/vmlinuz"); break;
        case 4: s.runtimeDir = QStringLiteral("/") + QString(120, QLatin1Char('x')); break;
        case 5: s.disks << Vmm::DiskSpec{QStringLiteral("/d.img"), QStringLiteral("vmdk"), false}; break;
        case 6: s.agentPortName = QStringLiteral("bad name,with=stuff"); break;
        case 7: s.agentPortName = QStringLiteral("org.port\n"); break;
        case 8: s.nic = Vmm::NicSpec{-1, QStringLiteral("0a:00:00:00:00:01")}; break;
        case 9: s.nic = Vmm::NicSpec{5, QStringLiteral("0b:00:00:00:00:01")}; break;
        case 10: s.nic = Vmm::NicSpec{5, QStringLiteral("0a:00:00:00:01")}; break;
        case 11: s.nic = Vmm::NicSpec{5, QStringLiteral("0a:00:00:00:00:01,x=1")}; break;
        }
        const auto r = Vmm::QemuCommandLine::validate(s);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY(!r.error().message.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestQemuCommandLine)
#include "tst_qemucommandline.moc"
