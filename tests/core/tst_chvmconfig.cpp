// ChVmConfig: VmSpec -> cloud-hypervisor API bodies, compared with golden
// JSON files (tests/core/data/ch/*.json) and checked against the OpenAPI
// schema fields in tests/core/data/ch/openapi-fields.json.
// MVS_UPDATE_GOLDEN=1 rewrites the golden files from the current output.

#include "core/vmm/chapiclient.h"
#include "core/vmm/chvmconfig.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <cmath>

using namespace Vmm;

namespace {

QString dataPath(const QString &name)
{
    return QStringLiteral(MVS_TEST_DATA_DIR "/ch/") + name;
}

QJsonObject readJsonObject(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

VmSpec minimalSpec()
{
    VmSpec s;
    s.name = QStringLiteral("vm1");
    s.kernelPath = QStringLiteral("/opt/mvs/kernel/vmlinuz");
    s.runtimeDir = QStringLiteral("/run/mvs/vm1");
    s.consoleLogPath = QStringLiteral("/var/lib/mvs/vms/vm1/console.log");
    return s;
}

VmSpec disksSpec()
{
    VmSpec s = minimalSpec();
    s.initramfsPath = QStringLiteral("/opt/mvs/kernel/initramfs.cpio.gz");
    s.kernelCmdline = QStringLiteral("root=/dev/vda rw quiet");
    s.vsockCid = 42;
    s.agentVsockPort = 5000;
    s.disks = {DiskSpec{QStringLiteral("/var/lib/mvs/vms/vm1/root.raw"), QStringLiteral("raw"), false},
               DiskSpec{QStringLiteral("/var/lib/mvs/images/tools.raw"), QStringLiteral("raw"), true}};
    s.stateDir = QStringLiteral("/var/lib/mvs/vms/vm1.snapshots");
    return s;
}

VmSpec largeSpec()
{
    VmSpec s = minimalSpec();
    s.name = QStringLiteral("big");
    s.vcpus = 8;
    s.memoryMiB = 16384;
    s.kernelCmdline = QStringLiteral("  init=/sbin/init   panic=1 ");
    s.vsockCid = 1000;
    s.runtimeDir = QStringLiteral("/run/mvs/big");
    s.consoleLogPath.clear(); // no console log: serial mode Null
    return s;
}

VmSpec specNamed(const QString &name)
{
    if (name == QLatin1String("disks"))
        return disksSpec();
    if (name == QLatin1String("large"))
        return largeSpec();
    if (name == QLatin1String("hotplug")) {
        VmSpec s = minimalSpec();
        s.vcpus = 2;
        s.maxVcpus = 6;
        return s;
    }
    return minimalSpec();
}

// Checks `value` against a schema of the OpenAPI fixture: every key is a
// property of the schema, of the right type, enum values are allowed ones,
// required keys are present; nested objects and arrays recursively.
class SchemaChecker {
public:
    explicit SchemaChecker(QJsonObject fixture)
        : m_schemas(fixture.value(QStringLiteral("schemas")).toObject())
        , m_enums(fixture.value(QStringLiteral("enums")).toObject())
    {
    }

    QStringList check(const QJsonObject &object, const QString &schemaName, const QString &where) const
    {
        QStringList errors;
        checkObject(object, schemaName, where, errors);
        return errors;
    }

private:
    void checkObject(const QJsonObject &object, const QString &schemaName, const QString &where, QStringList &errors) const
    {
        if (!m_schemas.contains(schemaName)) {
            errors << QStringLiteral("%1: schema %2 is not in the fixture").arg(where, schemaName);
            return;
        }
        const QJsonObject schema = m_schemas.value(schemaName).toObject();
        const QJsonObject properties = schema.value(QStringLiteral("properties")).toObject();
        const QJsonArray required = schema.value(QStringLiteral("required")).toArray();
        for (const QJsonValue &r : required) {
            if (!object.contains(r.toString()))
                errors << QStringLiteral("%1: required key '%2' of %3 is missing").arg(where, r.toString(), schemaName);
        }
        for (auto it = object.begin(); it != object.end(); ++it) {
            const QString path = where + QLatin1Char('.') + it.key();
            if (!properties.contains(it.key())) {
                errors << QStringLiteral("%1: not a property of %2").arg(path, schemaName);
                continue;
            }
            checkValue(it.value(), properties.value(it.key()).toString(), path, errors);
        }
    }

    void checkValue(const QJsonValue &value, const QString &type, const QString &where, QStringList &errors) const
    {
        if (type.endsWith(QLatin1String("[]"))) {
            if (!value.isArray()) {
                errors << QStringLiteral("%1: expected an array").arg(where);
                return;
            }
            const QString itemType = type.chopped(2);
            const QJsonArray items = value.toArray();
            for (qsizetype i = 0; i < items.size(); ++i)
                checkValue(items.at(i), itemType, QStringLiteral("%1[%2]").arg(where).arg(i), errors);
        } else if (type == QLatin1String("integer")) {
            if (!value.isDouble() || std::floor(value.toDouble()) != value.toDouble())
                errors << QStringLiteral("%1: expected an integer").arg(where);
        } else if (type == QLatin1String("string")) {
            if (!value.isString())
                errors << QStringLiteral("%1: expected a string").arg(where);
        } else if (type == QLatin1String("boolean")) {
            if (!value.isBool())
                errors << QStringLiteral("%1: expected a boolean").arg(where);
        } else if (type.startsWith(QLatin1String("enum "))) {
            const QString enumName = type.mid(5);
            if (!m_enums.contains(enumName))
                errors << QStringLiteral("%1: enum %2 is not in the fixture").arg(where, enumName);
            else if (!m_enums.value(enumName).toArray().contains(value))
                errors << QStringLiteral("%1: '%2' is not a %3 value").arg(where, value.toString(), enumName);
        } else if (value.isObject()) {
            checkObject(value.toObject(), type, where, errors);
        } else {
            errors << QStringLiteral("%1: expected a %2 object").arg(where, type);
        }
    }

    QJsonObject m_schemas;
    QJsonObject m_enums;
};

} // namespace

class TestChVmConfig : public QObject {
    Q_OBJECT

private:
    void compareWithGolden(const QJsonObject &actual, const QString &goldenName)
    {
        const QString path = dataPath(goldenName);
        if (qEnvironmentVariableIsSet("MVS_UPDATE_GOLDEN")) {
            QFile f(path);
            QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
            f.write(QJsonDocument(actual).toJson(QJsonDocument::Indented));
        }
        QVERIFY2(QFile::exists(path), qPrintable(QStringLiteral("missing golden file %1").arg(path)));
        const QJsonObject expected = readJsonObject(path);
        QVERIFY2(!expected.isEmpty(), qPrintable(QStringLiteral("golden file %1 is not a JSON object").arg(path)));
        if (actual != expected) {
            qWarning().noquote() << "actual:  " << QJsonDocument(actual).toJson(QJsonDocument::Compact);
            qWarning().noquote() << "expected:" << QJsonDocument(expected).toJson(QJsonDocument::Compact);
        }
        QCOMPARE(actual, expected);
    }

    QJsonObject bodyFor(const QString &kind)
    {
        if (kind == QLatin1String("snapshot"))
            return ChVmConfig::vmSnapshot(QStringLiteral("/var/lib/mvs/snapshots/vm1")).valueOr({});
        if (kind == QLatin1String("restore"))
            return ChVmConfig::vmRestore(QStringLiteral("/var/lib/mvs/snapshots/vm1")).valueOr({});
        if (kind == QLatin1String("restore-prefault"))
            return ChVmConfig::vmRestore(QStringLiteral("/var/lib/mvs/snapshots/vm1/"), true).valueOr({});
        if (kind == QLatin1String("resize"))
            return ChVmConfig::vmResize({4, 2048, std::nullopt}).valueOr({});
        if (kind == QLatin1String("restore-nic"))
            return ChVmConfig::vmRestore(QStringLiteral("/var/lib/mvs/snapshots/vm1"), false, true).valueOr({});
        if (kind == QLatin1String("add-net"))
            return ChVmConfig::vmAddNet(nicSpec()).valueOr({});
        return {};
    }

    static VmSpec nicSpec()
    {
        VmSpec s = specNamed(QStringLiteral("disks"));
        s.nic = Vmm::NicSpec{40, QStringLiteral("0A:1B:2C:3D:4E:5F")};
        return s;
    }

    // What ChInstance hands a cloud-hypervisor running as the VMM user for
    // disksSpec() (descriptor numbers as openChFds might return them).
    static ChVmConfig::PassedFds passedFds()
    {
        ChVmConfig::PassedFds fds;
        fds.vmmDir = 20;
        fds.stateDir = 21;
        fds.kernel = 22;
        fds.initramfs = 23;
        fds.disks = {24, 25};
        return fds;
    }

    // No path of the spec's is left in a body (only /dev/urandom, which is
    // everyone's): cloud-hypervisor running as the VMM user could reach none.
    static QStringList pathsIn(const QJsonValue &v)
    {
        if (v.isString())
            return v.toString().startsWith(QLatin1Char('/')) ? QStringList{v.toString()} : QStringList();
        QStringList paths;
        if (v.isObject())
            for (const QJsonValue item : v.toObject())
                paths += pathsIn(item);
        if (v.isArray())
            for (const QJsonValue item : v.toArray())
                paths += pathsIn(item);
        return paths;
    }

private Q_SLOTS:
    void vmCreate_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("golden");
        QTest::newRow("minimal") << QStringLiteral("minimal") << QStringLiteral("create-minimal.json");
        QTest::newRow("disks, readonly, initramfs") << QStringLiteral("disks") << QStringLiteral("create-disks.json");
        QTest::newRow("8 vcpus, 16 GiB, no console log") << QStringLiteral("large") << QStringLiteral("create-large.json");
        QTest::newRow("as the VMM user: descriptors") << QStringLiteral("disks fds") << QStringLiteral("create-passed-fds.json");
        QTest::newRow("2 vcpus, room for 6") << QStringLiteral("hotplug") << QStringLiteral("create-hotplug.json");
    }

    void vmCreate()
    {
        QFETCH(QString, spec);
        QFETCH(QString, golden);
        const bool passed = spec.endsWith(QLatin1String(" fds"));
        const Core::Expected<QJsonObject> body =
            ChVmConfig::vmCreate(specNamed(passed ? spec.chopped(4) : spec), passed ? std::optional(passedFds()) : std::nullopt);
        QVERIFY2(body.hasValue(), qPrintable(body.hasValue() ? QString() : body.error().toString()));
        compareWithGolden(*body, golden);
    }

    void otherBodies_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("golden");
        QTest::newRow("vm.snapshot") << QStringLiteral("snapshot") << QStringLiteral("snapshot.json");
        QTest::newRow("vm.restore") << QStringLiteral("restore") << QStringLiteral("restore.json");
        QTest::newRow("vm.restore prefault") << QStringLiteral("restore-prefault") << QStringLiteral("restore-prefault.json");
        QTest::newRow("vm.resize") << QStringLiteral("resize") << QStringLiteral("resize.json");
        QTest::newRow("vm.restore with a NIC") << QStringLiteral("restore-nic") << QStringLiteral("restore-nic.json");
        QTest::newRow("vm.add-net") << QStringLiteral("add-net") << QStringLiteral("add-net.json");
    }

    void otherBodies()
    {
        QFETCH(QString, kind);
        QFETCH(QString, golden);
        const QJsonObject body = bodyFor(kind);
        QVERIFY(!body.isEmpty());
        compareWithGolden(body, golden);
    }

    // A snapshot's config.json (a VmConfig) restored into another VM (a
    // fork): its vsock socket, serial log, disks and payload become the new
    // VM's; CPUs, memory and devices stay as saved.
    static Vmm::VmSpec forkSpec()
    {
        Vmm::VmSpec fork = specNamed(QStringLiteral("disks"));
        fork.name = QStringLiteral("fork-1");
        fork.runtimeDir = QStringLiteral("/run/mvs/fork-1-xyz");
        fork.consoleLogPath = QStringLiteral("/var/lib/mvs/vms/fork-1.console.log");
        fork.stateDir = QStringLiteral("/var/lib/mvs/vms/fork-1.snapshots");
        for (int i = 0; i < fork.disks.size(); ++i)
            fork.disks[i].path = QStringLiteral("/var/lib/mvs/vms/fork-1.disk/disk%1.raw").arg(i);
        return fork;
    }

    void retargetSnapshotConfig()
    {
        const QJsonObject saved = ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({});
        QVERIFY(!saved.isEmpty());
        const auto retargeted = ChVmConfig::retargetSnapshotConfig(saved, forkSpec());
        QVERIFY2(retargeted.hasValue(), qPrintable(retargeted.hasValue() ? QString() : retargeted.error().toString()));
        compareWithGolden(*retargeted, QStringLiteral("retarget-disks.json"));
        QCOMPARE(retargeted->value(QStringLiteral("cpus")), saved.value(QStringLiteral("cpus")));
        QCOMPARE(retargeted->value(QStringLiteral("memory")), saved.value(QStringLiteral("memory")));
        QCOMPARE(retargeted->value(QStringLiteral("vsock")).toObject().value(QStringLiteral("socket")).toString(),
                 QStringLiteral("/run/mvs/fork-1-xyz/vmm/vsock.sock"));
        // The fork's console socket and landlock rules, not the original's.
        QCOMPARE(retargeted->value(QStringLiteral("serial")).toObject().value(QStringLiteral("socket")).toString(),
                 QStringLiteral("/run/mvs/fork-1-xyz/vmm/console.sock"));
        QCOMPARE(retargeted->value(QStringLiteral("landlock_enable")), QJsonValue(true));
        const QJsonObject rule{{QStringLiteral("path"), QStringLiteral("/var/lib/mvs/vms/fork-1.snapshots")}, {QStringLiteral("access"), QStringLiteral("rw")}};
        QCOMPARE(retargeted->value(QStringLiteral("landlock_rules")).toArray(), QJsonArray{rule});
        // Still a valid VmConfig.
        const QJsonObject fixture = readJsonObject(dataPath(QStringLiteral("openapi-fields.json")));
        const QString schema = fixture.value(QStringLiteral("bodies")).toObject().value(QStringLiteral("vm.create")).toString();
        const QStringList errors = SchemaChecker(fixture).check(*retargeted, schema, QStringLiteral("config.json"));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1Char('\n'))));
    }

    // A snapshot restored by a cloud-hypervisor running as the VMM user: the
    // fork's files by descriptor, everything else as saved.
    void retargetWithDescriptors()
    {
        const QJsonObject saved = ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({});
        const auto retargeted = ChVmConfig::retargetSnapshotConfig(saved, forkSpec(), passedFds());
        QVERIFY2(retargeted.hasValue(), qPrintable(retargeted.hasValue() ? QString() : retargeted.error().toString()));
        compareWithGolden(*retargeted, QStringLiteral("retarget-passed-fds.json"));
        QStringList paths = pathsIn(*retargeted);
        paths.removeAll(QStringLiteral("/dev/urandom"));
        for (const QString &p : std::as_const(paths))
            QVERIFY2(p.startsWith(QLatin1String("/proc/self/fd/")), qPrintable(p));
    }

    void passedFdsLeaveNoPath()
    {
        const auto body = ChVmConfig::vmCreate(specNamed(QStringLiteral("disks")), passedFds());
        QVERIFY(body);
        QStringList paths = pathsIn(*body);
        QVERIFY(paths.removeAll(QStringLiteral("/dev/urandom")) == 1);
        QCOMPARE(paths.size(), 7); // kernel, initramfs, two disks, two sockets, the state directory's landlock rule
        for (const QString &p : std::as_const(paths))
            QVERIFY2(p.startsWith(QLatin1String("/proc/self/fd/")), qPrintable(p));
        QCOMPARE(passedFds().all(), (QList<int>{20, 22, 23, 21, 24, 25}));
    }

    // --api-socket fd=N and seccomp stated; no --landlock (it requires a
    // payload on the command line since v43).
    void commandLine()
    {
        QCOMPARE(ChVmConfig::commandLine(7),
                 (QStringList{QStringLiteral("--api-socket"), QStringLiteral("fd=7"), QStringLiteral("--seccomp"), QStringLiteral("true")}));
        QCOMPARE(ChVmConfig::procFdPath(9), QStringLiteral("/proc/self/fd/9"));
        QCOMPARE(ChVmConfig::procFdPath(9, QStringLiteral("restore")), QStringLiteral("/proc/self/fd/9/restore"));
    }

    // Where a snapshot goes, as cloud-hypervisor names it: by path for a
    // VMM of the service's user, through the state directory's descriptor
    // (a staging directory directly in it, nothing else) for the VMM user.
    void snapshotDirectoryAsTheVmmSeesIt()
    {
        const VmSpec s = specNamed(QStringLiteral("disks"));
        const QString staging = QStringLiteral("/var/lib/mvs/vms/vm1.snapshots/.staging-snap-XYZ");
        QCOMPARE(ChVmConfig::vmmSnapshotDir(s, staging, std::nullopt).valueOr({}), staging);
        QCOMPARE(ChVmConfig::vmmSnapshotDir(s, staging, passedFds()).valueOr({}), QStringLiteral("/proc/self/fd/21/.staging-snap-XYZ"));
        QCOMPARE(ChVmConfig::vmSnapshot(ChVmConfig::vmmSnapshotDir(s, staging + QLatin1Char('/'), passedFds()).valueOr({})).valueOr({}),
                 (QJsonObject{{QStringLiteral("destination_url"), QStringLiteral("file:///proc/self/fd/21/.staging-snap-XYZ")}}));
        for (const QString &elsewhere : {QStringLiteral("/var/lib/mvs/vms/other.snapshots/s"), QStringLiteral("/var/lib/mvs/vms/vm1.snapshots/a/b"),
                                         QStringLiteral("/var/lib/mvs/vms/vm1.snapshots")}) {
            const auto r = ChVmConfig::vmmSnapshotDir(s, elsewhere, passedFds());
            QVERIFY2(!r, qPrintable(elsewhere));
            QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        }
        // The sockets and the restore directory through the VMM's directory.
        QCOMPARE(ChVmConfig::vmmPath(s, ChVmConfig::restoreDir(s), passedFds()), QStringLiteral("/proc/self/fd/20/restore"));
        QCOMPARE(ChVmConfig::vmmPath(s, ChVmConfig::restoreDir(s), std::nullopt), ChVmConfig::restoreDir(s));
    }

    // vm.create takes no descriptors, so the NIC is not in it: it comes
    // with vm.add-net before vm.boot, its tap sent along.
    void theNicIsAddedNotCreated()
    {
        const auto create = ChVmConfig::vmCreate(nicSpec());
        QVERIFY(create);
        QCOMPARE(*create, ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({}));
        QVERIFY(!ChVmConfig::vmAddNet(specNamed(QStringLiteral("disks"))));
        VmSpec bad = nicSpec();
        bad.nic->mac = QStringLiteral("01:00:5e:00:00:01");
        QCOMPARE(ChVmConfig::validate(bad).error().code, Core::ErrorCode::InvalidArgument);
        bad.nic = Vmm::NicSpec{-1, QStringLiteral("0a:00:00:00:00:01")};
        QCOMPARE(ChVmConfig::validate(bad).error().code, Core::ErrorCode::InvalidArgument);
    }

    // A snapshot of a VM with a NIC, as cloud-hypervisor writes its
    // config.json (the NIC added by vm.add-net, with the descriptor number
    // it had), restored into a fork with its own tap: the NIC stays as
    // saved (the tap comes with vm.restore's net_fds).
    void retargetKeepsTheSavedNic()
    {
        QJsonObject saved = ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({});
        QJsonObject net = ChVmConfig::vmAddNet(nicSpec()).valueOr({});
        net.insert(QStringLiteral("fds"), QJsonArray{57});
        net.insert(QStringLiteral("queue_size"), 256);
        saved.insert(QStringLiteral("net"), QJsonArray{net});
        Vmm::VmSpec fork = forkSpec();
        fork.nic = Vmm::NicSpec{41, QStringLiteral("0a:00:00:00:00:02")};
        const auto retargeted = ChVmConfig::retargetSnapshotConfig(saved, fork);
        QVERIFY2(retargeted.hasValue(), qPrintable(retargeted.hasValue() ? QString() : retargeted.error().toString()));
        compareWithGolden(*retargeted, QStringLiteral("retarget-nic.json"));
        QCOMPARE(retargeted->value(QStringLiteral("net")), saved.value(QStringLiteral("net")));
        // A NIC on one side only, or one this service did not add, is refused.
        QVERIFY(!ChVmConfig::retargetSnapshotConfig(saved, forkSpec()));
        QVERIFY(!ChVmConfig::retargetSnapshotConfig(ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({}), fork));
        net.insert(QStringLiteral("id"), QStringLiteral("_net2"));
        saved.insert(QStringLiteral("net"), QJsonArray{net});
        QVERIFY(!ChVmConfig::retargetSnapshotConfig(saved, fork));
    }

    void retargetRefusesAnotherMachine()
    {
        const QJsonObject saved = ChVmConfig::vmCreate(specNamed(QStringLiteral("disks"))).valueOr({});
        Vmm::VmSpec fewerDisks = forkSpec();
        fewerDisks.disks.removeLast();
        const auto r = ChVmConfig::retargetSnapshotConfig(saved, fewerDisks);
        QVERIFY(!r.hasValue());
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        QJsonObject noVsock = saved;
        noVsock.remove(QStringLiteral("vsock"));
        QVERIFY(!ChVmConfig::retargetSnapshotConfig(noVsock, forkSpec()).hasValue());
    }

    // Every key the builders emit is a property of the OpenAPI schema its
    // endpoint takes, with the right type and enum values.
    void keysExistInOpenApiSchema_data()
    {
        QTest::addColumn<QString>("endpoint");
        QTest::addColumn<QJsonObject>("body");
        for (const char *spec : {"minimal", "disks", "large"}) {
            const auto body = ChVmConfig::vmCreate(specNamed(QLatin1String(spec)));
            QTest::addRow("vm.create %s", spec) << QStringLiteral("vm.create") << body.valueOr({});
        }
        QTest::newRow("vm.create descriptors") << QStringLiteral("vm.create")
                                               << ChVmConfig::vmCreate(specNamed(QStringLiteral("disks")), passedFds()).valueOr({});
        QTest::newRow("vm.snapshot") << QStringLiteral("vm.snapshot") << bodyFor(QStringLiteral("snapshot"));
        QTest::newRow("vm.restore") << QStringLiteral("vm.restore") << bodyFor(QStringLiteral("restore-prefault"));
        QTest::newRow("vm.resize") << QStringLiteral("vm.resize") << bodyFor(QStringLiteral("resize"));
        QTest::newRow("vm.restore nic") << QStringLiteral("vm.restore") << bodyFor(QStringLiteral("restore-nic"));
        QTest::newRow("vm.add-net") << QStringLiteral("vm.add-net") << bodyFor(QStringLiteral("add-net"));
        QTest::newRow("vm.create with a NIC") << QStringLiteral("vm.create") << ChVmConfig::vmCreate(nicSpec()).valueOr({});
        QTest::newRow("vm.resize balloon") << QStringLiteral("vm.resize") << ChVmConfig::vmResize({0, 0, 512}).valueOr({});
    }

    void keysExistInOpenApiSchema()
    {
        QFETCH(QString, endpoint);
        QFETCH(QJsonObject, body);
        QVERIFY(!body.isEmpty());
        const QJsonObject fixture = readJsonObject(dataPath(QStringLiteral("openapi-fields.json")));
        QVERIFY(!fixture.isEmpty());
        const QString schema = fixture.value(QStringLiteral("bodies")).toObject().value(endpoint).toString();
        QVERIFY2(!schema.isEmpty(), qPrintable(endpoint));
        const QStringList errors = SchemaChecker(fixture).check(body, schema, endpoint);
        QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1Char('\n'))));
    }

    // The checker itself catches a misspelt key, a wrong type and a bad enum value.
    void schemaCheckerRejectsUnknownKeys()
    {
        const QJsonObject fixture = readJsonObject(dataPath(QStringLiteral("openapi-fields.json")));
        QJsonObject body = ChVmConfig::vmCreate(minimalSpec()).valueOr({});
        QJsonObject serial = body.value(QStringLiteral("serial")).toObject();
        serial.insert(QStringLiteral("mode"), QStringLiteral("file")); // enum values are case-sensitive
        body.insert(QStringLiteral("serial"), serial);
        QJsonObject cpus = body.value(QStringLiteral("cpus")).toObject();
        cpus.insert(QStringLiteral("boot_vcpu"), 1);
        body.insert(QStringLiteral("cpus"), cpus);
        body.insert(QStringLiteral("disks"), QJsonArray{QJsonObject{{QStringLiteral("path"), 1}}});
        body.remove(QStringLiteral("payload"));
        const QStringList errors = SchemaChecker(fixture).check(body, QStringLiteral("VmConfig"), QStringLiteral("vm.create"));
        QCOMPARE(errors.size(), 4);
        QVERIFY(errors.join(QLatin1Char('\n')).contains(QLatin1String("vm.create.cpus.boot_vcpu: not a property of CpusConfig")));
    }

    void guestCmdlineGetsSerialConsole_data()
    {
        QTest::addColumn<QString>("cmdline");
        QTest::addColumn<QString>("expected");
        QTest::newRow("empty") << QString() << QStringLiteral("console=ttyS0");
        QTest::newRow("args") << QStringLiteral("root=/dev/vda rw") << QStringLiteral("root=/dev/vda rw console=ttyS0");
        QTest::newRow("whitespace") << QStringLiteral(" quiet\n  panic=1 ") << QStringLiteral("quiet panic=1 console=ttyS0");
        // The driver owns the console: ttyS0 comes last, so it is /dev/console.
        QTest::newRow("user console") << QStringLiteral("console=hvc0") << QStringLiteral("console=hvc0 console=ttyS0");
    }

    void guestCmdlineGetsSerialConsole()
    {
        QFETCH(QString, cmdline);
        QFETCH(QString, expected);
        VmSpec s = minimalSpec();
        s.kernelCmdline = cmdline;
        QCOMPARE(ChVmConfig::guestCmdline(s), expected);
        QCOMPARE(ChVmConfig::payload(s).value(QStringLiteral("cmdline")).toString(), expected);
    }

    void runtimePaths()
    {
        VmSpec s = minimalSpec();
        s.runtimeDir = QStringLiteral("/run/mvs/vm1/");
        QCOMPARE(ChVmConfig::apiSocketPath(s), QStringLiteral("/run/mvs/vm1/ch-api.sock"));
        QCOMPARE(ChVmConfig::vmmDir(s), QStringLiteral("/run/mvs/vm1/vmm"));
        QCOMPARE(ChVmConfig::vsockSocketPath(s), QStringLiteral("/run/mvs/vm1/vmm/vsock.sock"));
        QCOMPARE(ChVmConfig::consoleSocketPath(s), QStringLiteral("/run/mvs/vm1/vmm/console.sock"));
        QCOMPARE(ChVmConfig::restoreDir(s), QStringLiteral("/run/mvs/vm1/vmm/restore"));
        QCOMPARE(ChVmConfig::vmmLogPath(s), QStringLiteral("/run/mvs/vm1/vmm.log"));
        QCOMPARE(ChVmConfig::vsock(s).value(QStringLiteral("socket")).toString(), ChVmConfig::vsockSocketPath(s));
    }

    void validation_data()
    {
        QTest::addColumn<QString>("what");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("messagePart");
        const int invalid = int(Core::ErrorCode::InvalidArgument);
        QTest::newRow("no kernel") << QStringLiteral("no-kernel") << invalid << QStringLiteral("no kernel");
        QTest::newRow("0 vcpus") << QStringLiteral("vcpus-0") << invalid << QStringLiteral("vcpus must be at least 1");
        QTest::newRow("negative vcpus") << QStringLiteral("vcpus-neg") << invalid << QStringLiteral("vcpus must be at least 1");
        QTest::newRow("63 MiB") << QStringLiteral("mem-63") << invalid << QStringLiteral("at least 64 MiB");
        QTest::newRow("cid 2") << QStringLiteral("cid-2") << invalid << QStringLiteral("vsock CID");
        QTest::newRow("cid any") << QStringLiteral("cid-any") << invalid << QStringLiteral("vsock CID");
        QTest::newRow("agent port 0") << QStringLiteral("port-0") << invalid << QStringLiteral("vsock port");
        QTest::newRow("no runtime dir") << QStringLiteral("no-runtime") << invalid << QStringLiteral("runtime directory");
        QTest::newRow("runtime dir too long") << QStringLiteral("long-runtime") << invalid << QStringLiteral("too long");
        QTest::newRow("disk without path") << QStringLiteral("disk-no-path") << invalid << QStringLiteral("no path");
        QTest::newRow("qcow2 disk") << QStringLiteral("qcow2") << int(Core::ErrorCode::Unsupported) << QStringLiteral("raw disks only");
    }

    void validation()
    {
        QFETCH(QString, what);
        QFETCH(int, code);
        QFETCH(QString, messagePart);
        VmSpec s = disksSpec();
        if (what == QLatin1String("no-kernel"))
            s.kernelPath.clear();
        else if (what == QLatin1String("vcpus-0"))
            s.vcpus = 0;
        else if (what == QLatin1String("vcpus-neg"))
            s.vcpus = -2;
        else if (what == QLatin1String("mem-63"))
            s.memoryMiB = 63;
        else if (what == QLatin1String("cid-2"))
            s.vsockCid = 2;
        else if (what == QLatin1String("cid-any"))
            s.vsockCid = 0xFFFFFFFFu;
        else if (what == QLatin1String("port-0"))
            s.agentVsockPort = 0;
        else if (what == QLatin1String("no-runtime"))
            s.runtimeDir.clear();
        else if (what == QLatin1String("long-runtime"))
            s.runtimeDir = QStringLiteral("/run/") + QString(90, QLatin1Char('d'));
        else if (what == QLatin1String("disk-no-path"))
            s.disks[1].path.clear();
        else if (what == QLatin1String("qcow2"))
            s.disks[0].format = QStringLiteral("qcow2");

        const Core::Result ok = ChVmConfig::validate(s);
        QVERIFY(!ok);
        QCOMPARE(int(ok.error().code), code);
        QVERIFY2(ok.error().message.contains(messagePart), qPrintable(ok.error().message));
        const auto body = ChVmConfig::vmCreate(s);
        QVERIFY(!body);
        QCOMPARE(int(body.error().code), code);
    }

    void validationBoundaries()
    {
        VmSpec s = minimalSpec();
        s.memoryMiB = ChVmConfig::kMinMemoryMiB;
        s.vsockCid = ChVmConfig::kMinVsockCid;
        QVERIFY(ChVmConfig::validate(s));
        // The longest runtime dir that still leaves room for "vmm/vsock.sock_4294967295".
        s.runtimeDir = QLatin1Char('/') + QString(ChVmConfig::kMaxUnixSocketPathBytes - 27, QLatin1Char('r'));
        QCOMPARE(ChVmConfig::vsockSocketPath(s).size() + 11, ChVmConfig::kMaxUnixSocketPathBytes);
        QVERIFY(ChVmConfig::validate(s));
        s.runtimeDir += QLatin1Char('r');
        QVERIFY(!ChVmConfig::validate(s));
    }

    void otherBodiesValidate()
    {
        QCOMPARE(ChVmConfig::vmSnapshot(QStringLiteral("relative/dir")).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmSnapshot(QString()).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmRestore(QStringLiteral("snap")).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmResize({}).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmResize({-1, 0, std::nullopt}).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmResize({0, 32, std::nullopt}).error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(ChVmConfig::vmResize({0, 0, -1}).error().code, Core::ErrorCode::InvalidArgument);
        // An empty balloon is a value: the guest gets all its memory back.
        const QJsonObject deflate = ChVmConfig::vmResize({0, 0, 0}).valueOr({});
        QCOMPARE(deflate, (QJsonObject{{QStringLiteral("desired_balloon"), 0}}));
        // Every VM has its balloon, empty at boot, reporting free pages.
        QCOMPARE(ChVmConfig::vmCreate(specNamed(QStringLiteral("minimal"))).valueOr({}).value(QStringLiteral("balloon")).toObject(), ChVmConfig::balloon());
        QCOMPARE(ChVmConfig::balloon().value(QStringLiteral("free_page_reporting")), QJsonValue(true));
        QCOMPARE(ChVmConfig::balloon().value(QStringLiteral("deflate_on_oom")), QJsonValue(false));
        // Literal file:// URLs: cloud-hypervisor does not percent-decode.
        QCOMPARE(ChVmConfig::vmSnapshot(QStringLiteral("/tmp/a b")).valueOr({}).value(QStringLiteral("destination_url")).toString(),
                 QStringLiteral("file:///tmp/a b"));
    }

    // vm.create stays far below micro_http's 51,200-byte body limit.
    void createBodyFitsTheServerLimit()
    {
        VmSpec s = disksSpec();
        s.kernelCmdline = QString(2000, QLatin1Char('x'));
        for (int i = 0; i < 16; ++i)
            s.disks.append(DiskSpec{QStringLiteral("/var/lib/mvs/vms/vm1/disk%1.raw").arg(i)});
        const QByteArray json = QJsonDocument(ChVmConfig::vmCreate(s).valueOr({})).toJson(QJsonDocument::Compact);
        QVERIFY(json.size() > 1000);
        QVERIFY(json.size() < ChApiClient::kMaxRequestBodyBytes / 4);
    }
};

QTEST_GUILESS_MAIN(TestChVmConfig)
#include "tst_chvmconfig.moc"
