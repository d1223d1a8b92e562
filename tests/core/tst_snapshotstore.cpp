// Snapshot::SnapshotStore and GrowingFileHasher without guests: commit lists
// a snapshot only once it is whole (hashes, manifest, one rename); verify
// catches a changed, truncated or missing file; remove re-parents children;
// recover removes staging leftovers; a bad manifest is skipped, not listed;
// a file hashed while it is being written gets the checksum of the whole.

#include "core/snapshot/snapshotstore.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTimeZone>
#include <QJsonObject>
#include <QTest>

#include <thread>

using Snapshot::SnapshotInfo;
using Snapshot::SnapshotStore;

namespace {

QByteArray randomBytes(int n)
{
    QByteArray b(n, Qt::Uninitialized);
    QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(b.data()), n / 4);
    return b;
}

bool writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

SnapshotInfo infoFor(const QString &name, const QString &parent, int secondsAfterEpoch)
{
    SnapshotInfo i;
    i.name = name;
    i.vm = QStringLiteral("vm1");
    i.createdAt = QDateTime::fromSecsSinceEpoch(1800000000 + secondsAfterEpoch, QTimeZone::utc());
    i.parent = parent;
    i.driver = QStringLiteral("qemu");
    i.templateName = QStringLiteral("minimal");
    i.vcpus = 1;
    i.memoryMiB = 256;
    i.accel = QStringLiteral("tcg");
    i.kernelPath = QStringLiteral("/cache/vmlinuz");
    i.stateFiles = {QStringLiteral("memory.state")};
    return i;
}

} // namespace

class TestSnapshotStore : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    // A committed snapshot with a memory.state of `bytes`.
    Core::Expected<SnapshotInfo> make(const SnapshotStore &store, const QString &name, const QString &parent, int t, const QByteArray &bytes)
    {
        auto staging = store.beginStaging(name);
        if (!staging)
            return staging.error();
        if (!writeFile(QDir(*staging).filePath(QStringLiteral("memory.state")), bytes))
            return Core::Error(Core::ErrorCode::Io, QStringLiteral("write"));
        return store.commit(*staging, infoFor(name, parent, t), {QStringLiteral("memory.state")});
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void commitListVerify()
    {
        const SnapshotStore store(m_dir.filePath(QStringLiteral("a")));
        const QByteArray bytes = randomBytes(3 * 1024 * 1024 + 12);
        auto staging = store.beginStaging(QStringLiteral("s1"));
        QVERIFY(staging);
        QVERIFY(writeFile(QDir(*staging).filePath(QStringLiteral("memory.state")), bytes));
        QVERIFY(store.list().isEmpty()); // staging is never listed
        auto s1 = store.commit(*staging, infoFor(QStringLiteral("s1"), QString(), 1), {QStringLiteral("memory.state")});
        QVERIFY2(s1, qPrintable(s1 ? QString() : s1.error().toString()));
        QVERIFY(!QFileInfo::exists(*staging));
        QCOMPARE(s1->files.size(), 1);
        QCOMPARE(s1->files.first().size, qint64(bytes.size()));
        QCOMPARE(s1->files.first().sha256, QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex()));
        QCOMPARE(s1->sizeBytes(), qint64(bytes.size()));
        const auto listed = store.list();
        QCOMPARE(listed.size(), 1);
        QCOMPARE(listed.first().name, QStringLiteral("s1"));
        QCOMPARE(listed.first().toJson(), s1->toJson());
        QVERIFY(SnapshotStore::verify(*s1));
        QVERIFY(SnapshotStore::syncFiles(*s1));
        // Same name again: refused, nothing changed.
        auto again = make(store, QStringLiteral("s1"), QString(), 2, "x");
        QCOMPARE(again.error().code, Core::ErrorCode::AlreadyExists);
        QCOMPARE(store.list().size(), 1);
        QVERIFY(store.recover().isEmpty()); // the failed commit left no staging directory
        // A file listed but never written: the commit fails, nothing is kept.
        auto empty = store.beginStaging(QStringLiteral("s2"));
        QVERIFY(empty);
        auto missing = store.commit(*empty, infoFor(QStringLiteral("s2"), QString(), 3), {QStringLiteral("memory.state")});
        QVERIFY(!missing);
        QVERIFY(!QFileInfo::exists(*empty));
        QCOMPARE(store.list().size(), 1);
    }

    void verifyCatchesDamage_data()
    {
        QTest::addColumn<int>("damage");
        QTest::newRow("one byte flipped") << 0;
        QTest::newRow("truncated") << 1;
        QTest::newRow("missing") << 2;
    }
    void verifyCatchesDamage()
    {
        QFETCH(int, damage);
        const SnapshotStore store(m_dir.filePath(QStringLiteral("damage-%1").arg(damage)));
        auto s = make(store, QStringLiteral("s"), QString(), 1, randomBytes(1 << 20));
        QVERIFY(s);
        const QString file = QDir(s->directory).filePath(QStringLiteral("memory.state"));
        QFile f(file);
        if (damage == 0) {
            QVERIFY(f.open(QIODevice::ReadWrite));
            f.seek(1000);
            char c = 0;
            f.getChar(&c);
            f.seek(1000);
            f.putChar(char(c ^ 1));
            f.close();
        } else if (damage == 1) {
            QVERIFY(f.resize(1000));
        } else {
            QVERIFY(f.remove());
        }
        const Core::Result r = SnapshotStore::verify(*s);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Corrupted);
        QVERIFY2(r.error().message.contains(QLatin1String("memory.state")), qPrintable(r.error().message));
    }

    void removeKeepsChildren()
    {
        const SnapshotStore store(m_dir.filePath(QStringLiteral("chain")));
        QVERIFY(make(store, QStringLiteral("s1"), QString(), 1, randomBytes(4096)));
        QVERIFY(make(store, QStringLiteral("s2"), QStringLiteral("s1"), 2, randomBytes(4096)));
        auto s3 = make(store, QStringLiteral("s3"), QStringLiteral("s2"), 3, randomBytes(4096));
        QVERIFY(make(store, QStringLiteral("s4"), QStringLiteral("s2"), 4, randomBytes(4096)));
        QVERIFY(store.remove(QStringLiteral("s2")));
        QCOMPARE(store.get(QStringLiteral("s2")).error().code, Core::ErrorCode::NotFound);
        QCOMPARE(store.get(QStringLiteral("s3"))->parent, QStringLiteral("s1"));
        QCOMPARE(store.get(QStringLiteral("s4"))->parent, QStringLiteral("s1"));
        QVERIFY(SnapshotStore::verify(*store.get(QStringLiteral("s3")))); // its files untouched
        QCOMPARE(store.get(QStringLiteral("s3"))->files.first().sha256, s3->files.first().sha256);
        QVERIFY(store.remove(QStringLiteral("s1")));
        QCOMPARE(store.get(QStringLiteral("s3"))->parent, QString());
        QCOMPARE(store.remove(QStringLiteral("nope")).error().code, Core::ErrorCode::NotFound);
        QStringList names;
        for (const SnapshotInfo &i : store.list())
            names << i.name;
        QCOMPARE(names, (QStringList{QStringLiteral("s3"), QStringLiteral("s4")}));
        QVERIFY(store.removeAll().hasValue());
        QVERIFY(!QFileInfo::exists(store.root()));
    }

    void recoverAndBadManifests()
    {
        const SnapshotStore store(m_dir.filePath(QStringLiteral("recover")));
        QVERIFY(make(store, QStringLiteral("good"), QString(), 1, randomBytes(4096)));
        auto staging = store.beginStaging(QStringLiteral("half"));
        QVERIFY(staging);
        QVERIFY(writeFile(QDir(*staging).filePath(QStringLiteral("memory.state")), "half"));
        QVERIFY(QDir().mkpath(store.directoryOf(QStringLiteral("nomanifest"))));
        QVERIFY(QDir().mkpath(store.directoryOf(QStringLiteral("garbage"))));
        QVERIFY(writeFile(store.directoryOf(QStringLiteral("garbage")) + QStringLiteral("/manifest.json"), "{not json"));
        QStringList warnings;
        const auto listed = store.list(&warnings);
        QCOMPARE(listed.size(), 1);
        QCOMPARE(warnings.size(), 2);
        QCOMPARE(store.get(QStringLiteral("garbage")).error().code, Core::ErrorCode::Corrupted);
        QCOMPARE(store.recover(), QStringList{*staging});
        QVERIFY(!QFileInfo::exists(*staging));
        QVERIFY(SnapshotStore::validateName(QStringLiteral("ok-1")));
        for (const char *bad : {"", "Bad", "-x", "a/b", "..", "a b"})
            QVERIFY(!SnapshotStore::validateName(QString::fromLatin1(bad)));
        QVERIFY(store.uniqueName().startsWith(QLatin1String("snap-")));
    }

    // A manifest names only files of its own directory and clean absolute
    // image paths; anything else is Corrupted when read back.
    // A VM's vCPU ceiling (hot-plug) comes back with its snapshot; one
    // without it (every manifest before it) has none.
    void theVcpuCeilingIsKept()
    {
        SnapshotInfo info = infoFor(QStringLiteral("s"), QString(), 1);
        info.files = {{QStringLiteral("memory.state"), 4, QString(64, QLatin1Char('a'))}};
        info.vcpus = 2;
        info.maxVcpus = 4;
        auto read = SnapshotInfo::fromJson(info.toJson());
        QVERIFY(read);
        QCOMPARE(read->vcpus, 2);
        QCOMPARE(read->maxVcpus, 4);
        info.maxVcpus = 0;
        QVERIFY(!info.toJson().contains(QStringLiteral("max_vcpus")));
        QCOMPARE(SnapshotInfo::fromJson(info.toJson())->maxVcpus, 0);
    }

    void manifestPathsAreConfined_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QJsonValue>("value");
        QTest::newRow("disk file up") << QStringLiteral("disk_file") << QJsonValue(QStringLiteral("../../other.qcow2"));
        QTest::newRow("disk file dotdot") << QStringLiteral("disk_file") << QJsonValue(QStringLiteral(".."));
        QTest::newRow("disk file absolute") << QStringLiteral("disk_file") << QJsonValue(QStringLiteral("/etc/shadow"));
        QTest::newRow("disk file unlisted") << QStringLiteral("disk_file") << QJsonValue(QStringLiteral("disk.qcow2"));
        QTest::newRow("kernel relative") << QStringLiteral("kernel") << QJsonValue(QStringLiteral("vmlinuz"));
        QTest::newRow("kernel dotdot") << QStringLiteral("kernel") << QJsonValue(QStringLiteral("/cache/../etc/vmlinuz"));
        QTest::newRow("base disk dotdot") << QStringLiteral("base_disk") << QJsonValue(QStringLiteral("/cache/images/../../root.img"));
        QTest::newRow("initramfs relative") << QStringLiteral("initramfs") << QJsonValue(QStringLiteral("./initrd"));
    }

    void manifestPathsAreConfined()
    {
        QFETCH(QString, field);
        QFETCH(QJsonValue, value);
        SnapshotInfo info = infoFor(QStringLiteral("s"), QString(), 1);
        info.files = {{QStringLiteral("memory.state"), 4, QString(64, QLatin1Char('a'))}};
        QVERIFY2(SnapshotInfo::fromJson(info.toJson()).hasValue(), "the unchanged manifest reads back");
        QJsonObject json = info.toJson();
        json.insert(field, value);
        const auto read = SnapshotInfo::fromJson(json);
        QVERIFY(!read.hasValue());
        QCOMPARE(read.error().code, Core::ErrorCode::Corrupted);
    }

    // At restore, the image files must lie in the image cache, links
    // resolved: a manifest never makes the VMM open another file.
    void imagePathsMustBeInTheImageCache()
    {
        const QString images = m_dir.filePath(QStringLiteral("images"));
        QVERIFY(QDir().mkpath(images + QStringLiteral("/key")));
        const QString kernel = images + QStringLiteral("/key/vmlinuz");
        QVERIFY(writeFile(kernel, "kernel"));
        const QString outside = m_dir.filePath(QStringLiteral("outside-vmlinuz"));
        QVERIFY(writeFile(outside, "elsewhere"));
        const QString link = images + QStringLiteral("/key/link");
        QVERIFY(QFile::link(outside, link));

        SnapshotInfo info = infoFor(QStringLiteral("s"), QString(), 1);
        info.kernelPath = kernel;
        const auto inside = SnapshotStore::checkImagePaths(info, images);
        QVERIFY2(inside.hasValue(), inside ? "" : qPrintable(inside.error().message));
        info.kernelPath = outside;
        QCOMPARE(SnapshotStore::checkImagePaths(info, images).error().code, Core::ErrorCode::Corrupted);
        info.kernelPath = link;
        QCOMPARE(SnapshotStore::checkImagePaths(info, images).error().code, Core::ErrorCode::Corrupted);
        info.kernelPath = images + QStringLiteral("/key/gone");
        QCOMPARE(SnapshotStore::checkImagePaths(info, images).error().code, Core::ErrorCode::NotFound);
        info.kernelPath = kernel;
        info.baseDiskPath = images + QStringLiteral("-evil/root.img"); // a sibling sharing the prefix
        QVERIFY(writeFile(QDir().mkpath(images + QStringLiteral("-evil")) ? info.baseDiskPath : QString(), "x"));
        QCOMPARE(SnapshotStore::checkImagePaths(info, images).error().code, Core::ErrorCode::Corrupted);
    }

    // Hashed while a writer appends in bursts: the checksum of the whole.
    void growingFileHasher()
    {
        const QString path = m_dir.filePath(QStringLiteral("growing.state"));
        const QByteArray bytes = randomBytes(9 * 1024 * 1024 + 100);
        Snapshot::GrowingFileHasher hasher(path); // before the file exists, as with QEMU
        std::thread writer([&]() {
            QFile f(path);
            if (!f.open(QIODevice::WriteOnly))
                return;
            for (qsizetype at = 0; at < bytes.size(); at += 700 * 1024) {
                f.write(bytes.mid(at, 700 * 1024));
                f.flush();
                std::this_thread::sleep_for(std::chrono::milliseconds(3));
            }
        });
        writer.join();
        auto h = hasher.finish();
        QVERIFY(h);
        QCOMPARE(h->name, QStringLiteral("growing.state"));
        QCOMPARE(h->size, qint64(bytes.size()));
        QCOMPARE(h->sha256, *Snapshot::sha256File(path));
        // A writer that never wrote anything: a clear error, no hang.
        Snapshot::GrowingFileHasher never(m_dir.filePath(QStringLiteral("never.state")));
        QVERIFY(!never.finish());
    }
};

QTEST_GUILESS_MAIN(TestSnapshotStore)
#include "tst_snapshotstore.moc"
