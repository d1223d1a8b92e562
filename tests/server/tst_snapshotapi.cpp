// The snapshot routes of the REST service for real: the adapter on an
// ephemeral port of 127.0.0.1, QNetworkAccessManager, real QEMU guests
// (minimal template). Every route (take, list, get, restore, fork, delete)
// and its errors: malformed and unknown fields, fork counts out of range,
// unknown VMs and snapshots (404), a stopped VM (409), a snapshot whose
// memory.state lost one bit (422, the VM runs on untouched), two forks with
// their own host names, delete then list.

#include "e2efixture.h"

#include "e2eservice.h"
#include "tests/apicall.h"

#include "core/vm/vmmanager.h"
#include "server/api.h"
#include "server/httpadapter.h"
#include "server/tokenstore.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTemporaryDir>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr int kOpTimeoutMs = 240000; // a snapshot, restore or fork under TCG on a busy host

using HttpResult = TestApi::Reply;

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestSnapshotApi : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    Vm::VmManager *m_manager = nullptr;
    QByteArray m_token;
    quint16 m_port = 0;
    QNetworkAccessManager m_nam;

    const QString m_vm = QStringLiteral("snap-a");

    HttpResult call(const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(), int timeoutMs = 30000)
    {
        return TestApi::call(m_nam, m_port, m_token, method, path, body, timeoutMs);
    }

    QString snapshots(const QString &vm, const QString &rest = QString()) const
    {
        return QStringLiteral("/api/v1/vms/%1/snapshots").arg(vm) + (rest.isEmpty() ? QString() : QLatin1Char('/') + rest);
    }

    // stdout of a shell command in the guest, trimmed ("<...>" when it failed).
    QString sh(const QString &vm, const QString &command)
    {
        const HttpResult r = call("POST", QStringLiteral("/api/v1/vms/%1/exec").arg(vm), json({{QStringLiteral("cmd"), command}}), 90000);
        if (r.status != 200)
            return QStringLiteral("<%1>").arg(r.describe());
        if (r.json[QStringLiteral("exit_code")].toInt(-1) != 0)
            return QStringLiteral("<exit %1: %2>").arg(r.json[QStringLiteral("exit_code")].toInt(-1)).arg(r.json[QStringLiteral("stderr")].toString());
        return r.json[QStringLiteral("stdout")].toString().trimmed();
    }

    QString state(const QString &vm) { return call("GET", QStringLiteral("/api/v1/vms/") + vm).json[QStringLiteral("state")].toString(); }

    QStringList vmNames()
    {
        QStringList names;
        for (const QJsonValue &v : call("GET", QStringLiteral("/api/v1/vms")).json[QStringLiteral("vms")].toArray())
            names << v[QStringLiteral("name")].toString();
        return names;
    }

    QStringList snapshotNames(const QString &vm)
    {
        QStringList names;
        for (const QJsonValue &v : call("GET", snapshots(vm)).json[QStringLiteral("snapshots")].toArray())
            names << v[QStringLiteral("name")].toString();
        return names;
    }

    // Every field of a snapshot object, with its type.
    static void checkSnapshot(const QJsonObject &s, const QString &vm, const QString &name, const QJsonValue &parent)
    {
        QCOMPARE(s[QStringLiteral("name")].toString(), name);
        QCOMPARE(s[QStringLiteral("vm")].toString(), vm);
        const QDateTime created = QDateTime::fromString(s[QStringLiteral("created_at")].toString(), Qt::ISODateWithMs);
        QVERIFY2(created.isValid(), qPrintable(s[QStringLiteral("created_at")].toString()));
        QVERIFY(qAbs(created.secsTo(QDateTime::currentDateTimeUtc())) < 3600);
        QCOMPARE(s[QStringLiteral("parent")], parent);
        QVERIFY(s[QStringLiteral("paused_ms")].isDouble());
        QVERIFY(s[QStringLiteral("paused_ms")].toInteger() >= 0);
        QCOMPARE(s[QStringLiteral("template")].toString(), QStringLiteral("minimal"));
        QVERIFY(s[QStringLiteral("vcpus")].toInt() >= 1);
        QVERIFY(s[QStringLiteral("memory_mb")].toInt() >= 64);
        QCOMPARE(s[QStringLiteral("driver")].toString(), QStringLiteral("qemu"));
        QVERIFY2(s[QStringLiteral("vmm_version")].toString().count(QLatin1Char('.')) == 2, qPrintable(s[QStringLiteral("vmm_version")].toString()));
        QVERIFY(s[QStringLiteral("has_disk")].isBool());
        const QJsonArray files = s[QStringLiteral("files")].toArray();
        QVERIFY(!files.isEmpty());
        qint64 total = 0;
        bool memory = false;
        for (const QJsonValue &f : files) {
            QVERIFY(!f[QStringLiteral("name")].toString().isEmpty());
            QCOMPARE(f[QStringLiteral("sha256")].toString().size(), 64);
            total += f[QStringLiteral("size")].toInteger();
            memory = memory || f[QStringLiteral("name")].toString() == QLatin1String("memory.state");
        }
        QVERIFY(memory);
        QVERIFY(total > 0);
        QCOMPARE(s[QStringLiteral("size_bytes")].toInteger(), total);
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        if (!d.driver)
            QFAIL(qPrintable(d.skipReason));
        m_driver = d.driver;
        const QString problem = m_service.start(*m_driver);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        m_manager = m_service.manager();
        m_token = m_service.token();
        m_port = m_service.port();
    }

    void cleanupTestCase()
    {
        m_manager = nullptr;
        m_service.stop(); // kills the VMs it runs
    }

    void routesNeedTheToken()
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(snapshots(QStringLiteral("x")))));
        QNetworkReply *reply = m_nam.get(req);
        QTRY_VERIFY(reply->isFinished());
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 401);
        reply->deleteLater();
    }

    // Wrong bodies and unknown VMs: nothing boots.
    void badRequests_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("code");
        const QString take = snapshots(QStringLiteral("nobody"));
        const QString fork = snapshots(QStringLiteral("nobody"), QStringLiteral("s1/fork"));
        const QString restore = snapshots(QStringLiteral("nobody"), QStringLiteral("s1/restore"));
        const QString bad = QStringLiteral("invalid_argument");
        const QString badJson = QStringLiteral("invalid_json");
        const QString nf = QStringLiteral("not_found");
        QTest::newRow("take: malformed json") << QByteArray("POST") << take << QByteArray("{\"name\": ") << 400 << badJson;
        QTest::newRow("take: json array") << QByteArray("POST") << take << QByteArray("[]") << 400 << badJson;
        QTest::newRow("take: unknown field") << QByteArray("POST") << take << QByteArray(R"({"name": "a", "colour": "red"})") << 400 << bad;
        QTest::newRow("take: name a number") << QByteArray("POST") << take << QByteArray(R"({"name": 5})") << 400 << bad;
        QTest::newRow("take: name empty") << QByteArray("POST") << take << QByteArray(R"({"name": ""})") << 400 << bad;
        QTest::newRow("take: leave_paused a string") << QByteArray("POST") << take << QByteArray(R"({"leave_paused": "yes"})") << 400 << bad;
        QTest::newRow("fork: malformed json") << QByteArray("POST") << fork << QByteArray("{count: 2}") << 400 << badJson;
        QTest::newRow("fork: count 0") << QByteArray("POST") << fork << QByteArray(R"({"count": 0})") << 400 << bad;
        QTest::newRow("fork: count 17") << QByteArray("POST") << fork << QByteArray(R"({"count": 17})") << 400 << bad;
        QTest::newRow("fork: count -1") << QByteArray("POST") << fork << QByteArray(R"({"count": -1})") << 400 << bad;
        QTest::newRow("fork: count 1.5") << QByteArray("POST") << fork << QByteArray(R"({"count": 1.5})") << 400 << bad;
        QTest::newRow("fork: count a string") << QByteArray("POST") << fork << QByteArray(R"({"count": "2"})") << 400 << bad;
        QTest::newRow("fork: name_prefix a number") << QByteArray("POST") << fork << QByteArray(R"({"name_prefix": 3})") << 400 << bad;
        QTest::newRow("fork: unknown field") << QByteArray("POST") << fork << QByteArray(R"({"count": 1, "names": ["a"]})") << 400 << bad;
        QTest::newRow("restore: unknown field") << QByteArray("POST") << restore << QByteArray(R"({"force": true})") << 400 << bad;
        QTest::newRow("restore: malformed json") << QByteArray("POST") << restore << QByteArray("{") << 400 << badJson;
        QTest::newRow("take: unknown vm") << QByteArray("POST") << take << QByteArray() << 404 << nf;
        QTest::newRow("take: unknown vm with a body") << QByteArray("POST") << take << QByteArray(R"({"name": "s1"})") << 404 << nf;
        QTest::newRow("list: unknown vm") << QByteArray("GET") << take << QByteArray() << 404 << nf;
        QTest::newRow("get: unknown vm") << QByteArray("GET") << snapshots(QStringLiteral("nobody"), QStringLiteral("s1")) << QByteArray() << 404 << nf;
        QTest::newRow("delete: unknown vm") << QByteArray("DELETE") << snapshots(QStringLiteral("nobody"), QStringLiteral("s1")) << QByteArray() << 404 << nf;
        QTest::newRow("restore: unknown vm") << QByteArray("POST") << restore << QByteArray() << 404 << nf;
        QTest::newRow("fork: unknown vm") << QByteArray("POST") << fork << QByteArray(R"({"count": 2})") << 404 << nf;
        QTest::newRow("list: bad vm name") << QByteArray("GET") << snapshots(QStringLiteral("Bad_Name")) << QByteArray() << 400 << bad;
        QTest::newRow("wrong method") << QByteArray("PUT") << take << QByteArray("{}") << 405 << QStringLiteral("method_not_allowed");
    }
    void badRequests()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, code);
        const HttpResult r = call(method, path, body);
        QVERIFY2(r.status == status, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), code);
        QVERIFY(!r.json[QStringLiteral("error")][QStringLiteral("message")].toString().isEmpty());
        QCOMPARE(vmNames(), QStringList());
    }

    // A VM that does not run: nothing to snapshot (409); its empty list and
    // the 404s of a snapshot it does not have; then it boots for the next test.
    void stoppedVm()
    {
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"),
                            json({{QStringLiteral("name"), m_vm}, {QStringLiteral("template"), QStringLiteral("minimal")}, {QStringLiteral("start"), false}}));
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("current_snapshot")], QJsonValue(QJsonValue::Null));
        QCOMPARE(r.json[QStringLiteral("forked_from")], QJsonValue(QJsonValue::Null));

        r = call("POST", snapshots(m_vm), json({{QStringLiteral("name"), QStringLiteral("never")}}));
        QVERIFY2(r.status == 409, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("invalid_state"));
        r = call("GET", snapshots(m_vm));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("snapshots")].toArray().size(), 0);

        const QString nf = QStringLiteral("not_found");
        r = call("GET", snapshots(m_vm, QStringLiteral("never")));
        QVERIFY2(r.status == 404 && r.errorCode() == nf, qPrintable(r.describe()));
        r = call("POST", snapshots(m_vm, QStringLiteral("never/restore")));
        QVERIFY2(r.status == 404 && r.errorCode() == nf, qPrintable(r.describe()));
        r = call("POST", snapshots(m_vm, QStringLiteral("never/fork")), json({{QStringLiteral("count"), 2}}));
        QVERIFY2(r.status == 404 && r.errorCode() == nf, qPrintable(r.describe()));
        r = call("DELETE", snapshots(m_vm, QStringLiteral("never")));
        QVERIFY2(r.status == 404 && r.errorCode() == nf, qPrintable(r.describe()));
        r = call("GET", snapshots(m_vm, QStringLiteral("Bad_Name")));
        QVERIFY2(r.status == 400 && r.errorCode() == QLatin1String("invalid_argument"), qPrintable(r.describe()));
        QCOMPARE(vmNames(), QStringList{m_vm});

        r = call("POST", QStringLiteral("/api/v1/vms/%1/start").arg(m_vm), QByteArray(), kCreateTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
    }

    void takeListGetRestore()
    {
        QCOMPARE(sh(m_vm, QStringLiteral("echo before > /root/state.txt && cat /root/state.txt")), QStringLiteral("before"));

        HttpResult r = call("POST", snapshots(m_vm), json({{QStringLiteral("name"), QStringLiteral("base")}}), kOpTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        checkSnapshot(r.json, m_vm, QStringLiteral("base"), QJsonValue(QJsonValue::Null));
        if (QTest::currentTestFailed())
            return;
        const QJsonObject base = r.json;
        QCOMPARE(state(m_vm), QStringLiteral("running"));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/") + m_vm).json[QStringLiteral("current_snapshot")].toString(), QStringLiteral("base"));

        r = call("POST", snapshots(m_vm), json({{QStringLiteral("name"), QStringLiteral("base")}}), kOpTimeoutMs);
        QVERIFY2(r.status == 409 && r.errorCode() == QLatin1String("already_exists"), qPrintable(r.describe()));
        r = call("POST", snapshots(m_vm), json({{QStringLiteral("name"), QStringLiteral("Bad_Name")}}), kOpTimeoutMs);
        QVERIFY2(r.status == 400 && r.errorCode() == QLatin1String("invalid_argument"), qPrintable(r.describe()));

        // No body at all: a generated name, and "base" as its parent.
        QCOMPARE(sh(m_vm, QStringLiteral("echo after > /root/state.txt && cat /root/state.txt")), QStringLiteral("after"));
        r = call("POST", snapshots(m_vm), QByteArray(), kOpTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        const QString second = r.json[QStringLiteral("name")].toString();
        QVERIFY2(second.startsWith(QLatin1String("snap-")), qPrintable(second));
        checkSnapshot(r.json, m_vm, second, QStringLiteral("base"));
        const QJsonObject secondJson = r.json;

        r = call("GET", snapshots(m_vm));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        const QJsonArray list = r.json[QStringLiteral("snapshots")].toArray();
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0).toObject(), base); // oldest first
        QCOMPARE(list.at(1).toObject(), secondJson);
        r = call("GET", snapshots(m_vm, QStringLiteral("base")));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json, base);

        // Restore in place: the file as it was, the VM answered as GET shows it.
        r = call("POST", snapshots(m_vm, QStringLiteral("base/restore")), QByteArray(), kOpTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("name")].toString(), m_vm);
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
        QCOMPARE(r.json[QStringLiteral("current_snapshot")].toString(), QStringLiteral("base"));
        QCOMPARE(sh(m_vm, QStringLiteral("cat /root/state.txt")), QStringLiteral("before"));
        const HttpResult vm = call("GET", QStringLiteral("/api/v1/vms/") + m_vm);
        QCOMPARE(vm.json[QStringLiteral("current_snapshot")].toString(), QStringLiteral("base"));
        QCOMPARE(vm.json[QStringLiteral("state")].toString(), QStringLiteral("running"));

        // leave_paused: the VM stays paused, then resumes.
        r = call("POST", snapshots(m_vm), json({{QStringLiteral("name"), QStringLiteral("held")}, {QStringLiteral("leave_paused"), true}}), kOpTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("parent")].toString(), QStringLiteral("base"));
        QCOMPARE(state(m_vm), QStringLiteral("paused"));
        r = call("POST", QStringLiteral("/api/v1/vms/%1/resume").arg(m_vm));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(sh(m_vm, QStringLiteral("cat /root/state.txt")), QStringLiteral("before"));
    }

    // Two forks of the second snapshot: running, their own host names, the
    // snapshot's file; forked_from says where they came from.
    void forkTwo()
    {
        const QStringList snaps = snapshotNames(m_vm);
        QVERIFY2(snaps.size() == 3, qPrintable(snaps.join(QLatin1Char(' '))));
        const QString second = snaps.at(1);
        const HttpResult r = call("POST", snapshots(m_vm, second + QStringLiteral("/fork")),
                                  json({{QStringLiteral("count"), 2}, {QStringLiteral("name_prefix"), QStringLiteral("fk")}}), kOpTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        const QJsonArray vms = r.json[QStringLiteral("vms")].toArray();
        QCOMPARE(vms.size(), 2);
        QStringList names;
        for (const QJsonValue &v : vms) {
            names << v[QStringLiteral("name")].toString();
            QCOMPARE(v[QStringLiteral("state")].toString(), QStringLiteral("running"));
            QCOMPARE(v[QStringLiteral("forked_from")].toString(), m_vm + QLatin1Char('/') + second);
            QCOMPARE(v[QStringLiteral("template")].toString(), QStringLiteral("minimal"));
        }
        QCOMPARE(names, (QStringList{QStringLiteral("fk-1"), QStringLiteral("fk-2")}));
        const QString h1 = sh(names.at(0), QStringLiteral("hostname"));
        const QString h2 = sh(names.at(1), QStringLiteral("hostname"));
        QVERIFY2(!h1.startsWith(QLatin1Char('<')) && !h2.startsWith(QLatin1Char('<')), qPrintable(h1 + QLatin1Char(' ') + h2));
        QVERIFY2(h1 != h2, qPrintable(h1));
        QCOMPARE(sh(names.at(0), QStringLiteral("cat /root/state.txt")), QStringLiteral("after"));
        QCOMPARE(sh(names.at(1), QStringLiteral("cat /root/state.txt")), QStringLiteral("after"));
        // The forks are VMs like any other, and the original runs on.
        QCOMPARE(state(m_vm), QStringLiteral("running"));
        for (const QString &fork : names) {
            const HttpResult gone = call("DELETE", QStringLiteral("/api/v1/vms/") + fork, QByteArray(), 60000);
            QVERIFY2(gone.status == 200, qPrintable(gone.describe()));
        }
        QCOMPARE(vmNames(), QStringList{m_vm});
    }

    // One byte of memory.state flipped: restore and fork answer 422
    // corrupted; the VM runs on as it was and no fork is left behind.
    void corruptedSnapshotRefused()
    {
        QCOMPARE(sh(m_vm, QStringLiteral("echo untouched > /root/marker && cat /root/marker")), QStringLiteral("untouched"));
        const QString file = m_manager->snapshotDir(m_vm) + QStringLiteral("/base/memory.state");
        {
            QFile f(file);
            QVERIFY2(f.open(QIODevice::ReadWrite), qPrintable(file + QLatin1Char(' ') + f.errorString()));
            QVERIFY(f.size() > 0);
            QVERIFY(f.seek(f.size() / 2));
            char c = 0;
            QCOMPARE(f.read(&c, 1), qint64(1));
            c = char(c ^ 0x01);
            QVERIFY(f.seek(f.size() / 2));
            QCOMPARE(f.write(&c, 1), qint64(1));
        }
        HttpResult r = call("POST", snapshots(m_vm, QStringLiteral("base/restore")), QByteArray(), kOpTimeoutMs);
        QVERIFY2(r.status == 422, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("corrupted"));
        QVERIFY2(r.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QLatin1String("memory.state")), qPrintable(r.describe()));
        QCOMPARE(state(m_vm), QStringLiteral("running"));
        QCOMPARE(sh(m_vm, QStringLiteral("cat /root/marker")), QStringLiteral("untouched"));

        r = call("POST", snapshots(m_vm, QStringLiteral("base/fork")), json({{QStringLiteral("count"), 2}}), kOpTimeoutMs);
        QVERIFY2(r.status == 422, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("corrupted"));
        QCOMPARE(vmNames(), QStringList{m_vm});
        // Still listed: it is the user's to delete.
        QVERIFY(snapshotNames(m_vm).contains(QStringLiteral("base")));
    }

    // Delete (204, no body), then the list has it no more; its child
    // inherits its parent (none).
    void deleteThenList()
    {
        HttpResult r = call("DELETE", snapshots(m_vm, QStringLiteral("base")));
        QVERIFY2(r.status == 204, qPrintable(r.describe()));
        QVERIFY(r.body.isEmpty());
        const QStringList names = snapshotNames(m_vm);
        QCOMPARE(names.size(), 2);
        QVERIFY(!names.contains(QStringLiteral("base")));
        r = call("GET", snapshots(m_vm, names.first()));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("parent")], QJsonValue(QJsonValue::Null));
        r = call("GET", snapshots(m_vm, QStringLiteral("base")));
        QVERIFY2(r.status == 404 && r.errorCode() == QLatin1String("not_found"), qPrintable(r.describe()));
        r = call("DELETE", snapshots(m_vm, QStringLiteral("base")));
        QVERIFY2(r.status == 404 && r.errorCode() == QLatin1String("not_found"), qPrintable(r.describe()));
    }

    // A stopped VM restored from a snapshot runs again, from it.
    void restoreStartsAStoppedVm()
    {
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms/%1/stop").arg(m_vm), QByteArray(), 60000);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("stopped"));
        r = call("POST", snapshots(m_vm, QStringLiteral("held/restore")), QByteArray(), kOpTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
        QCOMPARE(r.json[QStringLiteral("current_snapshot")].toString(), QStringLiteral("held"));
        QCOMPARE(sh(m_vm, QStringLiteral("cat /root/state.txt")), QStringLiteral("before"));

        r = call("DELETE", QStringLiteral("/api/v1/vms/") + m_vm, QByteArray(), 60000);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        r = call("GET", snapshots(m_vm));
        QVERIFY2(r.status == 404, qPrintable(r.describe()));
    }
};

QTEST_GUILESS_MAIN(TestSnapshotApi)
#include "tst_snapshotapi.moc"
