// VmRecordStore on its own: a record saved atomically with mode 0600 and read
// back the same (exposed ports too, malformed ones dropped), the per-VM paths beside it, files that cannot be records
// skipped with a warning each, and removal.

#include "core/vm/vmrecordstore.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using Vm::VmRecord;
using Vm::VmRecordStore;

namespace {

VmRecord record(const QString &name)
{
    VmRecord r;
    r.name = name;
    r.templateName = QStringLiteral("minimal");
    r.vcpus = 2;
    r.maxVcpus = 6;
    r.memoryMiB = 512;
    r.desired = VmRecord::Desired::Paused;
    r.createdAt = QDateTime::fromString(QStringLiteral("2026-12-01T10:00:00.000Z"), Qt::ISODateWithMs);
    r.lastError = Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU exited"));
    r.currentSnapshot = QStringLiteral("clean");
    return r;
}

void write(const QString &path, const QByteArray &data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

} // namespace

class TestVmRecordStore : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void savedRecordsComeBackTheSame()
    {
        const VmRecordStore store(m_dir.filePath(QStringLiteral("a")));
        QVERIFY(store.save(record(QStringLiteral("box"))));
        QCOMPARE(QFile(store.recordPath(QStringLiteral("box"))).permissions() & (QFile::ReadGroup | QFile::ReadOther), QFile::Permissions());
        const auto loaded = store.loadAll();
        QVERIFY2(loaded.warnings.isEmpty(), qPrintable(loaded.warnings.join(QLatin1Char('\n'))));
        QCOMPARE(loaded.records.size(), 1);
        const VmRecord &r = loaded.records.first();
        QCOMPARE(r.name, QStringLiteral("box"));
        QCOMPARE(r.vcpus, 2);
        QCOMPARE(r.maxVcpus, 6);
        QCOMPARE(r.memoryMiB, 512);
        QCOMPARE(r.desired, VmRecord::Desired::Paused);
        QCOMPARE(r.createdAt, record(QStringLiteral("box")).createdAt);
        QVERIFY(r.lastError);
        QCOMPARE(r.lastError->code, Core::ErrorCode::VmmFailed);
        QCOMPARE(r.currentSnapshot, QStringLiteral("clean"));
        QVERIFY(QDir(store.dir()).entryList(QDir::Files | QDir::Hidden).filter(QStringLiteral("box.json")).size() == 1);
    }

    // A VM's network (issue 15) comes back whole; a record without one is a
    // VM without a NIC; a malformed one is refused with the field named.
    void networkComesBackTheSame()
    {
        const VmRecordStore store(m_dir.filePath(QStringLiteral("net")));
        Vm::VmRecord r = record(QStringLiteral("netbox"));
        auto spec = Templates::NetworkSpec::fromJson(QJsonObject{
            {QStringLiteral("mode"), QStringLiteral("egress")},
            {QStringLiteral("policy"),
             QJsonObject{{QStringLiteral("default"), QStringLiteral("deny")}, {QStringLiteral("allow"), QJsonArray{QStringLiteral("allowed.test")}}}}});
        QVERIFY2(spec, spec ? "" : qPrintable(spec.error().message));
        r.network.spec = *spec;
        r.network.slot = 7;
        r.network.mac = QStringLiteral("0a:1b:2c:3d:4e:5f");
        QVERIFY(store.save(r));
        const auto loaded = store.loadAll();
        QCOMPARE(loaded.records.size(), 1);
        const Vm::VmNetwork &n = loaded.records.first().network;
        QVERIFY(n.hasNic());
        QVERIFY(n.spec == *spec);
        QCOMPARE(n.slot, 7);
        QCOMPARE(n.mac, QStringLiteral("0a:1b:2c:3d:4e:5f"));

        QVERIFY(!Vm::VmRecord::fromJson(record(QStringLiteral("plain")).toJson()).value().network.hasNic());
        QJsonObject bad = r.toJson();
        QJsonObject net = bad.value(QStringLiteral("network")).toObject();
        net.insert(QStringLiteral("mac"), QStringLiteral("not-a-mac"));
        bad.insert(QStringLiteral("network"), net);
        auto refused = Vm::VmRecord::fromJson(bad);
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.contains(QLatin1String("network.mac")), qPrintable(refused.error().message));
        net.insert(QStringLiteral("mac"), r.network.mac);
        net.insert(QStringLiteral("mode"), QStringLiteral("bridge"));
        bad.insert(QStringLiteral("network"), net);
        refused = Vm::VmRecord::fromJson(bad);
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.contains(QLatin1String("network.mode")), qPrintable(refused.error().message));
    }

    // Exposed ports: kept as saved; malformed entries and a guest port
    // repeated are dropped when the record loads, the rest still loads.
    void exposedPortsComeBack()
    {
        VmRecord r = record(QStringLiteral("web"));
        Vm::PortExposure fixed;
        fixed.guestPort = 22;
        fixed.hostAddress = QHostAddress(QStringLiteral("::1"));
        fixed.hostPort = 2222;
        Vm::PortExposure ephemeral;
        ephemeral.guestPort = 8000;
        ephemeral.lastHostPort = 41877;
        r.ports = {fixed, ephemeral};
        QJsonObject json = r.toJson();
        const auto back = VmRecord::fromJson(json);
        QVERIFY(back);
        QCOMPARE(back->ports.size(), 2);
        QCOMPARE(back->ports.at(0).hostAddress, QHostAddress(QStringLiteral("::1")));
        QCOMPARE(back->ports.at(0).hostPort, quint16(2222));
        QVERIFY(back->ports.at(0).fixedHostPort());
        QCOMPARE(back->ports.at(1).hostAddress, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(back->ports.at(1).lastHostPort, quint16(41877));
        QVERIFY(!back->ports.at(1).fixedHostPort());
        QCOMPARE(back->toJson(), json);

        QJsonArray ports = json[QStringLiteral("ports")].toArray();
        ports.append(
            QJsonObject{{QStringLiteral("guest_port"), 22}, {QStringLiteral("host_address"), QStringLiteral("127.0.0.1")}, {QStringLiteral("host_port"), 0}});
        ports.append(
            QJsonObject{{QStringLiteral("guest_port"), 0}, {QStringLiteral("host_address"), QStringLiteral("127.0.0.1")}, {QStringLiteral("host_port"), 0}});
        ports.append(
            QJsonObject{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_address"), QStringLiteral("nowhere")}, {QStringLiteral("host_port"), 0}});
        ports.append(QJsonObject{
            {QStringLiteral("guest_port"), 81}, {QStringLiteral("host_address"), QStringLiteral("127.0.0.1")}, {QStringLiteral("host_port"), 65536}});
        ports.append(QStringLiteral("junk"));
        json[QStringLiteral("ports")] = ports;
        const auto cleaned = VmRecord::fromJson(json);
        QVERIFY(cleaned);
        QCOMPARE(cleaned->ports.size(), 2);
        QCOMPARE(cleaned->ports.at(0).hostPort, quint16(2222)); // the first of guest port 22 kept
    }

    void perVmPathsLieBesideTheRecord()
    {
        const VmRecordStore store(QStringLiteral("/s"));
        QCOMPARE(store.recordPath(QStringLiteral("x")), QStringLiteral("/s/x.json"));
        QCOMPARE(store.consoleLogPath(QStringLiteral("x")), QStringLiteral("/s/x.console.log"));
        QCOMPARE(store.diskDir(QStringLiteral("x")), QStringLiteral("/s/x.disk"));
        QCOMPARE(store.snapshotDir(QStringLiteral("x")), QStringLiteral("/s/x.snapshots"));
    }

    void filesThatAreNoRecordsAreSkippedWithAWarning()
    {
        const VmRecordStore store(m_dir.filePath(QStringLiteral("b")));
        QVERIFY(store.save(record(QStringLiteral("good"))));
        write(store.recordPath(QStringLiteral("garbage")), "{not json");
        write(store.recordPath(QStringLiteral("array")), "[1, 2]");
        write(store.recordPath(QStringLiteral("old")), R"({"version": 99, "name": "old"})");
        VmRecord other = record(QStringLiteral("someone-else"));
        write(store.recordPath(QStringLiteral("renamed")), QJsonDocument(other.toJson()).toJson());
        VmRecord bad = record(QStringLiteral("Bad Name"));
        write(store.recordPath(QStringLiteral("Bad Name")), QJsonDocument(bad.toJson()).toJson());
        const auto loaded = store.loadAll();
        QCOMPARE(loaded.records.size(), 1);
        QCOMPARE(loaded.records.first().name, QStringLiteral("good"));
        QCOMPARE(loaded.warnings.size(), 5);
        QVERIFY(loaded.warnings.filter(QStringLiteral("garbage.json: not a JSON object")).size() == 1);
        QVERIFY(loaded.warnings.filter(QStringLiteral("unsupported record version")).size() == 1);
        QVERIFY(loaded.warnings.filter(QStringLiteral("does not match the file")).size() == 2);
    }

    void removeDeletesTheRecordOnly()
    {
        const VmRecordStore store(m_dir.filePath(QStringLiteral("c")));
        QVERIFY(store.save(record(QStringLiteral("gone"))));
        write(store.consoleLogPath(QStringLiteral("gone")), "log");
        QVERIFY(store.remove(QStringLiteral("gone")));
        QVERIFY(!QFile::exists(store.recordPath(QStringLiteral("gone"))));
        QVERIFY(QFile::exists(store.consoleLogPath(QStringLiteral("gone"))));
        QVERIFY(store.remove(QStringLiteral("never-there"))); // nothing to delete is not an error
        QVERIFY(store.loadAll().records.isEmpty());
    }

    void namesAreChecked()
    {
        QVERIFY(Vm::validateVmName(QStringLiteral("a-1")));
        QVERIFY(!Vm::validateVmName(QStringLiteral("-a")));
        QVERIFY(!Vm::validateVmName(QStringLiteral("a\n")));
        QVERIFY(!Vm::validateVmName(QString(64, QLatin1Char('a'))));
    }
};

QTEST_GUILESS_MAIN(TestVmRecordStore)
#include "tst_vmrecordstore.moc"
