// The exposed-ports routes of the REST service (POST/GET/DELETE
// /api/v1/vms/{name}/ports) over the VMM test double (tests/fakevmm.h: no
// QEMU runs) and the real agent on the host, whose forwarded streams reach
// this host's 127.0.0.1: a QTcpServer of the test stands for the guest's
// server. Every error: an unknown VM (404), bad guest ports, host ports and
// addresses (400 naming the field), an address not of this host (400), a
// host port in use (409 naming address and port), a guest port exposed
// twice (409), an unknown exposure (404). An exposure of a stopped VM holds
// its port and closes connections at once, relays once the VM runs, and
// refuses connections once removed; it stays with the VM's record across a
// restart of the service (the fixed host port bound again, the ephemeral one
// asked for again), waits as failed while its port is taken and binds when
// the VM starts; deleting the VM closes its ports; /metrics counts them.

#include "e2efixture.h"

#include "tests/apicall.h"
#include "tests/fakevmm.h"
#include "tests/hostagent.h"
#include "core/vm/vmmanager.h"
#include "server/api.h"
#include "server/httpadapter.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace E2e;

namespace {

constexpr int kStartTimeoutMs = 300000; // the first start may build the minimal image
constexpr const char *kToken = "ports-test-token";

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// A manager over the VMM test double, its API and the HTTP adapter.
struct Service {
    FakeVmm::Driver driver;
    Vm::VmManager manager;
    Server::Api api;
    std::unique_ptr<Server::HttpAdapter> adapter;
    quint16 port = 0;

    Service(const QString &agentSocket, const QString &stateDir)
        : driver(agentSocket)
        , manager(driver, stateDir)
        , api(manager)
    {
        Server::HttpAdapter::Options o;
        o.token = QByteArray(kToken);
        adapter = std::make_unique<Server::HttpAdapter>(api.httpEndpoints(), o);
        auto p = adapter->listen(QHostAddress::LocalHost, 0);
        port = p ? *p : 0;
    }
};

// What a client connected to 127.0.0.1:port gets back for `data` before
// the connection ends ("<refused>" when it is refused).
QByteArray roundTrip(quint16 port, const QByteArray &data, int timeoutMs = 20000)
{
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, port);
    if (!s.waitForConnected(timeoutMs))
        return s.error() == QAbstractSocket::ConnectionRefusedError ? QByteArrayLiteral("<refused>") : QByteArrayLiteral("<no connection>");
    s.write(data);
    QByteArray got;
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired() && s.state() == QAbstractSocket::ConnectedState && got.size() < data.size()) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        s.waitForReadyRead(20);
        got += s.readAll();
    }
    got += s.readAll();
    return got;
}

// A free port of 127.0.0.1 right now.
quint16 freePort()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHost, 0) ? probe.serverPort() : 0;
}

} // namespace

class TestPortsApi : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;
    QTcpServer m_echo; // the "guest's" server: echoes what it reads
    QNetworkAccessManager m_nam;
    int m_round = 0;

    QString stateDir() const { return m_dir.filePath(QStringLiteral("state-%1").arg(m_round)); }
    std::unique_ptr<Service> service() { return std::make_unique<Service>(m_agentSocket, stateDir()); }

    TestApi::Reply call(const Service &s, const QByteArray &method, const QString &path, const QByteArray &body = {})
    {
        return TestApi::call(m_nam, s.port, QByteArray(kToken), method, path, body, 30000);
    }
    TestApi::Reply expose(const Service &s, const QString &vm, const QJsonObject &body)
    {
        return call(s, "POST", QStringLiteral("/api/v1/vms/%1/ports").arg(vm), json(body));
    }
    QJsonArray ports(const Service &s, const QString &vm)
    {
        return call(s, "GET", QStringLiteral("/api/v1/vms/%1/ports").arg(vm)).json[QStringLiteral("ports")].toArray();
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_dir.isValid());
        qputenv("MVS_RUNTIME_DIR", m_dir.filePath(QStringLiteral("run")).toUtf8());
        qputenv("MVS_DATA_DIR", m_dir.filePath(QStringLiteral("data")).toUtf8());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        const QString stubs = m_dir.filePath(QStringLiteral("stubs"));
        QVERIFY(QDir().mkpath(stubs));
        QVERIFY(HostAgent::startWithStubs(m_agent, m_agentSocket, stubs));
        QVERIFY(m_echo.listen(QHostAddress::LocalHost, 0));
        connect(&m_echo, &QTcpServer::newConnection, this, [this]() {
            while (QTcpSocket *c = m_echo.nextPendingConnection()) {
                connect(c, &QTcpSocket::readyRead, c, [c]() { c->write(c->readAll()); });
                connect(c, &QTcpSocket::disconnected, c, &QObject::deleteLater);
            }
        });
    }
    void cleanupTestCase() { HostAgent::stop(m_agent); }
    void init() { ++m_round; }

    void errorsAreClear()
    {
        auto s = service();
        QVERIFY(s->port);
        E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));

        for (const auto &[method, path] : {std::pair<QByteArray, QString>{"POST", QStringLiteral("/api/v1/vms/nope/ports")},
                                           {"GET", QStringLiteral("/api/v1/vms/nope/ports")},
                                           {"DELETE", QStringLiteral("/api/v1/vms/nope/ports/8000")}}) {
            const auto r = call(*s, method, path, method == "POST" ? json({{QStringLiteral("guest_port"), 8000}}) : QByteArray());
            QCOMPARE(r.status, 404);
            QCOMPARE(r.errorCode(), QStringLiteral("not_found"));
            QVERIFY2(r.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QStringLiteral("no VM named 'nope'")),
                     qPrintable(r.describe()));
        }

        const QList<std::pair<QJsonObject, QString>> bad{
            {QJsonObject{}, QStringLiteral("guest_port")},
            {{{QStringLiteral("guest_port"), 0}}, QStringLiteral("guest_port")},
            {{{QStringLiteral("guest_port"), 65536}}, QStringLiteral("guest_port")},
            {{{QStringLiteral("guest_port"), QStringLiteral("80")}}, QStringLiteral("guest_port")},
            {{{QStringLiteral("guest_port"), 80.5}}, QStringLiteral("guest_port")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_port"), -1}}, QStringLiteral("host_port")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_port"), 70000}}, QStringLiteral("host_port")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_address"), QStringLiteral("localhost.example")}}, QStringLiteral("host_address")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_address"), 127}}, QStringLiteral("host_address")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_address"), QStringLiteral("203.0.113.7")}},
             QStringLiteral("not an address of this host")},
            {{{QStringLiteral("guest_port"), 80}, {QStringLiteral("to"), 1}}, QStringLiteral("unknown field 'to'")},
        };
        for (const auto &[body, named] : bad) {
            const auto r = expose(*s, QStringLiteral("box"), body);
            QVERIFY2(r.status == 400, qPrintable(QString::fromUtf8(json(body)) + QStringLiteral(" -> ") + r.describe()));
            QVERIFY2(r.body.contains(named.toUtf8()), qPrintable(QString::fromUtf8(json(body)) + QStringLiteral(" -> ") + r.describe()));
        }
        QCOMPARE(call(*s, "POST", QStringLiteral("/api/v1/vms/box/ports"), "{").errorCode(), QStringLiteral("invalid_json"));

        // A host port in use: 409 naming the address and port.
        QTcpServer squatter;
        QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
        auto taken = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_port"), squatter.serverPort()}});
        QCOMPARE(taken.status, 409);
        QCOMPARE(taken.errorCode(), QStringLiteral("already_exists"));
        QVERIFY2(taken.body.contains(QStringLiteral("127.0.0.1:%1 is already in use").arg(squatter.serverPort()).toUtf8()), qPrintable(taken.describe()));

        // The same guest port twice: 409, the first one kept.
        auto first = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), 80}});
        QCOMPARE(first.status, 201);
        auto twice = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), 80}, {QStringLiteral("host_port"), 0}});
        QCOMPARE(twice.status, 409);
        QVERIFY2(
            twice.body.contains(QByteArray("guest port 80 of VM box is already exposed (on " + first.json[QStringLiteral("endpoint")].toString().toUtf8())),
            qPrintable(twice.describe()));
        QCOMPARE(ports(*s, QStringLiteral("box")).size(), 1);

        // Removing: a guest port that is not one, one not exposed.
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/http")).status, 400);
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/0")).status, 400);
        auto notExposed = call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/81"));
        QCOMPARE(notExposed.status, 404);
        QVERIFY2(notExposed.body.contains("guest port 81 of VM box is not exposed"), qPrintable(notExposed.describe()));
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/80")).status, 204);
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/80")).status, 404);
        QVERIFY(ports(*s, QStringLiteral("box")).isEmpty());
    }

    void relaysWhileTheVmRuns()
    {
        auto s = service();
        E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        const quint16 guestPort = m_echo.serverPort();

        // Accepted while the VM is stopped: listening, waiting for it.
        auto r = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), guestPort}});
        QCOMPARE(r.status, 201);
        QCOMPARE(r.json[QStringLiteral("guest_port")].toInt(), guestPort);
        QCOMPARE(r.json[QStringLiteral("host_address")].toString(), QStringLiteral("127.0.0.1"));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("waiting"));
        QCOMPARE(r.json[QStringLiteral("host_port_fixed")].toBool(), false);
        const quint16 hostPort = r.json[QStringLiteral("host_port")].toInt();
        QVERIFY(hostPort != 0);
        QCOMPARE(r.json[QStringLiteral("endpoint")].toString(), QStringLiteral("127.0.0.1:%1").arg(hostPort));
        QCOMPARE(roundTrip(hostPort, "early"), QByteArray()); // closed at once, not refused

        E2E_VERIFY_OK(await(s->manager.start(QStringLiteral("box")), kStartTimeoutMs));
        QCOMPARE(ports(*s, QStringLiteral("box")).at(0)[QStringLiteral("state")].toString(), QStringLiteral("active"));
        QCOMPARE(roundTrip(hostPort, "hello through the agent"), QByteArrayLiteral("hello through the agent"));

        const QByteArray metrics = call(*s, "GET", QStringLiteral("/metrics")).body;
        QVERIFY2(metrics.contains("mvs_exposed_ports{state=\"active\"} 1\n"), metrics.constData());
        QVERIFY2(metrics.contains("mvs_port_connections_total 1\n"), metrics.constData());
        QVERIFY2(metrics.contains("mvs_port_connection_failures_total 1\n"), metrics.constData()); // the early one

        // Stopped again: waiting; removed: refused.
        E2E_VERIFY_OK(await(s->manager.stop(QStringLiteral("box")), 30000));
        QCOMPARE(ports(*s, QStringLiteral("box")).at(0)[QStringLiteral("state")].toString(), QStringLiteral("waiting"));
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box/ports/%1").arg(guestPort)).status, 204);
        QCOMPARE(roundTrip(hostPort, "gone"), QByteArrayLiteral("<refused>"));
    }

    void survivesAServiceRestart()
    {
        const quint16 fixed = freePort();
        QVERIFY(fixed);
        const quint16 guestPort = m_echo.serverPort();
        quint16 ephemeral = 0;
        {
            auto s = service();
            E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
            QCOMPARE(expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), guestPort}, {QStringLiteral("host_port"), fixed}}).status, 201);
            auto r = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), 9}});
            QCOMPARE(r.status, 201);
            ephemeral = r.json[QStringLiteral("host_port")].toInt();
        }
        // Nothing listens once the service is gone.
        QCOMPARE(roundTrip(fixed, "x"), QByteArrayLiteral("<refused>"));

        auto s = service();
        const QJsonArray list = ports(*s, QStringLiteral("box"));
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0)[QStringLiteral("guest_port")].toInt(), 9);
        QCOMPARE(list.at(0)[QStringLiteral("host_port")].toInt(), ephemeral); // asked for again, and free
        QCOMPARE(list.at(1)[QStringLiteral("guest_port")].toInt(), guestPort);
        QCOMPARE(list.at(1)[QStringLiteral("host_port")].toInt(), fixed);
        QCOMPARE(list.at(1)[QStringLiteral("host_port_fixed")].toBool(), true);
        QCOMPARE(list.at(1)[QStringLiteral("state")].toString(), QStringLiteral("waiting"));
        E2E_VERIFY_OK(await(s->manager.start(QStringLiteral("box")), kStartTimeoutMs));
        QCOMPARE(roundTrip(fixed, "after a restart"), QByteArrayLiteral("after a restart"));
    }

    void aTakenPortWaitsForTheVmStart()
    {
        const quint16 fixed = freePort();
        QVERIFY(fixed);
        {
            auto s = service();
            E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
            QCOMPARE(expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), m_echo.serverPort()}, {QStringLiteral("host_port"), fixed}}).status,
                     201);
        }
        auto squatter = std::make_unique<QTcpServer>();
        QVERIFY(squatter->listen(QHostAddress::LocalHost, fixed));
        auto s = service();
        QJsonObject p = ports(*s, QStringLiteral("box")).at(0).toObject();
        QCOMPARE(p[QStringLiteral("state")].toString(), QStringLiteral("failed"));
        QCOMPARE(p[QStringLiteral("host_port")].toInt(), fixed);
        QVERIFY(p[QStringLiteral("endpoint")].isNull());
        QVERIFY2(p[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QStringLiteral("already in use")), json(p).constData());
        QVERIFY(call(*s, "GET", QStringLiteral("/metrics")).body.contains("mvs_exposed_ports{state=\"failed\"} 1\n"));

        squatter.reset();
        E2E_VERIFY_OK(await(s->manager.start(QStringLiteral("box")), kStartTimeoutMs));
        p = ports(*s, QStringLiteral("box")).at(0).toObject();
        QCOMPARE(p[QStringLiteral("state")].toString(), QStringLiteral("active"));
        QVERIFY(p[QStringLiteral("error")].isNull());
        QCOMPARE(roundTrip(fixed, "bound at start"), QByteArrayLiteral("bound at start"));
    }

    void deletingTheVmClosesItsPorts()
    {
        auto s = service();
        E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        auto r = expose(*s, QStringLiteral("box"), {{QStringLiteral("guest_port"), 8000}});
        QCOMPARE(r.status, 201);
        const quint16 hostPort = r.json[QStringLiteral("host_port")].toInt();
        QCOMPARE(call(*s, "DELETE", QStringLiteral("/api/v1/vms/box")).status, 200);
        QCOMPARE(roundTrip(hostPort, "x"), QByteArrayLiteral("<refused>"));
        // A new VM of that name starts with none.
        E2E_VERIFY_OK(s->manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(ports(*s, QStringLiteral("box")).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestPortsApi)
#include "tst_portsapi.moc"
