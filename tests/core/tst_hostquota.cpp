// The host's quotas (core/vm/hostquota.h), pure: a create or a start over
// a limit fails with QuotaExceeded naming the limit, what is in use, what
// was asked and by how much it is over; at the limit it passes; 0 is no
// limit. The limits resolved from the environment over the config file,
// the memory default from the host's RAM times the overcommit, and bad
// values refused naming their key. The disk a directory holds counts
// allocated blocks (a sparse file counts what it uses).

#include "core/config.h"
#include "core/vm/hostquota.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using Vm::QuotaLimits;
using Vm::QuotaUsage;

class TestHostQuota : public QObject {
    Q_OBJECT

    static QString messageOf(const Core::Result &r) { return r ? QString() : r.error().message; }

private Q_SLOTS:
    void init()
    {
        for (const char *v : {"MVS_QUOTA_MAX_VMS", "MVS_QUOTA_MAX_VCPUS", "MVS_QUOTA_MAX_MEMORY_MIB", "MVS_QUOTA_MEMORY_OVERCOMMIT", "MVS_QUOTA_MAX_DISK_GIB"})
            qunsetenv(v);
    }

    void noLimitsPassEverything()
    {
        const QuotaLimits none;
        QVERIFY(Vm::checkCreate(none, {100000, 500000, qint64(1) << 30, qint64(1) << 50}, 16));
        QVERIFY(Vm::checkStart(none, {100000, 500000, qint64(1) << 30, 0}, 64, 256 * 1024));
    }

    void vmCount()
    {
        QuotaLimits l;
        l.maxVms = 3;
        QVERIFY(Vm::checkCreate(l, {2, 0, 0, 0}));
        const Core::Result over = Vm::checkCreate(l, {3, 0, 0, 0});
        QCOMPARE(over.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(messageOf(over), QStringLiteral("quota exceeded: vms: 3 in use + 1 asked > 3 allowed (over by 1)"));
        QCOMPARE(messageOf(Vm::checkCreate(l, {1, 0, 0, 0}, 4)), QStringLiteral("quota exceeded: vms: 1 in use + 4 asked > 3 allowed (over by 2)"));
    }

    void vcpusAndMemoryOfRunningVms()
    {
        QuotaLimits l;
        l.maxVcpus = 4;
        l.maxMemoryMiB = 600;
        QVERIFY(Vm::checkStart(l, {5, 2, 344, 0}, 2, 256)); // exactly at both limits
        QCOMPARE(messageOf(Vm::checkStart(l, {5, 3, 0, 0}, 2, 256)), QStringLiteral("quota exceeded: vcpus: 3 in use + 2 asked > 4 allowed (over by 1)"));
        QCOMPARE(messageOf(Vm::checkStart(l, {5, 2, 512, 0}, 1, 256)),
                 QStringLiteral("quota exceeded: memory: 512 MiB in use + 256 MiB asked > 600 MiB allowed (over by 168 MiB)"));
        QCOMPARE(Vm::checkStart(l, {5, 2, 512, 0}, 1, 256).error().code, Core::ErrorCode::QuotaExceeded);
    }

    void diskOfTheStateDirectory()
    {
        QuotaLimits l;
        l.maxDiskBytes = 1000;
        QVERIFY(Vm::checkCreate(l, {0, 0, 0, 999}));
        QCOMPARE(messageOf(Vm::checkCreate(l, {0, 0, 0, 1500})),
                 QStringLiteral("quota exceeded: disk: the data directory holds 1500 bytes, the limit is 1000 bytes (over by 500 bytes)"));
        QVERIFY(!Vm::checkCreate(l, {0, 0, 0, 1000})); // at the limit: nothing more may be written
    }

    void diskUsageCountsAllocatedBlocks()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile sparse(dir.filePath(QStringLiteral("sparse.img")));
        QVERIFY(sparse.open(QIODevice::WriteOnly));
        QVERIFY(sparse.resize(qint64(1) << 30)); // 1 GiB apparent, nothing written
        sparse.close();
        QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("sub"))));
        QFile data(dir.filePath(QStringLiteral("sub/data")));
        QVERIFY(data.open(QIODevice::WriteOnly));
        QVERIFY(data.write(QByteArray(1 << 20, 'x')) == 1 << 20);
        QVERIFY(data.flush());
        ::fsync(data.handle());
        data.close();
        const qint64 used = Vm::diskUsageBytes(dir.path());
        QVERIFY2(used >= (1 << 20) && used < (qint64(1) << 30) / 4, qPrintable(QString::number(used)));
    }

    void memoryDefaultsToRamTimesOvercommit()
    {
        const auto l = QuotaLimits::resolve(Core::Config(), 24000);
        QVERIFY(l);
        QCOMPARE(l->maxMemoryMiB, qint64(36000)); // 1.5 x
        QCOMPARE(l->maxVms, 0);
        QCOMPARE(l->maxVcpus, 0);
        QCOMPARE(l->maxDiskBytes, qint64(0));
        QCOMPARE(QuotaLimits::resolve(Core::Config(), 0)->maxMemoryMiB, qint64(0)); // RAM unknown: no limit
        QVERIFY(Vm::hostMemoryMiB() > 0);
    }

    void environmentOverConfig()
    {
        Core::Config c;
        c.quotaMaxVms = QStringLiteral("50");
        c.quotaMaxVcpus = QStringLiteral("8");
        c.quotaMemoryOvercommit = QStringLiteral("2");
        c.quotaMaxDiskGiB = QStringLiteral("3");
        auto l = QuotaLimits::resolve(c, 1000);
        QVERIFY(l);
        QCOMPARE(l->maxVms, 50);
        QCOMPARE(l->maxVcpus, 8);
        QCOMPARE(l->maxMemoryMiB, qint64(2000));
        QCOMPARE(l->maxDiskBytes, qint64(3) << 30);
        qputenv("MVS_QUOTA_MAX_VMS", "7");
        qputenv("MVS_QUOTA_MAX_MEMORY_MIB", "4096"); // an explicit limit beats RAM x overcommit
        l = QuotaLimits::resolve(c, 1000);
        QVERIFY(l);
        QCOMPARE(l->maxVms, 7);
        QCOMPARE(l->maxVcpus, 8);
        QCOMPARE(l->maxMemoryMiB, qint64(4096));
    }

    void badValuesNameTheirKey_data()
    {
        QTest::addColumn<QByteArray>("env");
        QTest::addColumn<QByteArray>("value");
        QTest::addColumn<QString>("key");
        QTest::newRow("negative") << QByteArray("MVS_QUOTA_MAX_VMS") << QByteArray("-1") << QStringLiteral("quota_max_vms");
        QTest::newRow("words") << QByteArray("MVS_QUOTA_MAX_VCPUS") << QByteArray("many") << QStringLiteral("quota_max_vcpus");
        QTest::newRow("huge") << QByteArray("MVS_QUOTA_MAX_VMS") << QByteArray("99999999999") << QStringLiteral("quota_max_vms");
        QTest::newRow("overcommit 0") << QByteArray("MVS_QUOTA_MEMORY_OVERCOMMIT") << QByteArray("0") << QStringLiteral("quota_memory_overcommit");
        QTest::newRow("overcommit nan") << QByteArray("MVS_QUOTA_MEMORY_OVERCOMMIT") << QByteArray("nan") << QStringLiteral("quota_memory_overcommit");
        QTest::newRow("disk fraction") << QByteArray("MVS_QUOTA_MAX_DISK_GIB") << QByteArray("1.5") << QStringLiteral("quota_max_disk_gib");
    }
    void badValuesNameTheirKey()
    {
        QFETCH(QByteArray, env);
        QFETCH(QByteArray, value);
        QFETCH(QString, key);
        qputenv(env.constData(), value);
        const auto l = QuotaLimits::resolve(Core::Config(), 1000);
        QVERIFY(!l);
        QCOMPARE(l.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(l.error().message.contains(key) && l.error().message.contains(QString::fromLatin1(env)), qPrintable(l.error().message));
    }

    void configFileKeys()
    {
        QTemporaryDir dir;
        QFile f(dir.filePath(QStringLiteral("config.yaml")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("quota_max_vms: 12\nquota_max_vcpus: 6\nquota_max_memory_mib: 8192\nquota_memory_overcommit: 1.25\nquota_max_disk_gib: 40\n");
        f.close();
        const auto c = Core::Config::load(f.fileName());
        QVERIFY2(c, c ? "" : qPrintable(c.error().message));
        const auto l = QuotaLimits::resolve(*c, 1000);
        QVERIFY(l);
        QCOMPARE(l->maxVms, 12);
        QCOMPARE(l->maxVcpus, 6);
        QCOMPARE(l->maxMemoryMiB, qint64(8192));
        QCOMPARE(l->maxDiskBytes, qint64(40) << 30);
    }
};

QTEST_GUILESS_MAIN(TestHostQuota)
#include "tst_hostquota.moc"
