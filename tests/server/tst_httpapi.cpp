// The REST service for real: the adapter listening on an ephemeral port of
// 127.0.0.1, driven by QNetworkAccessManager. Tokens and 401s on every
// protected route, 4xx for each kind of bad input, body caps; then real
// guests (QEMU driver, minimal template): create, exec, files both ways with
// a 32 MiB sha256 round trip, console, pause/resume, stop, delete; health
// answered while a VM boots; VMs listed again after a service restart.

#include "../rawhttp.h"
#include "e2efixture.h"

#include "core/vm/vmmanager.h"
#include "server/api.h"
#include "server/httpadapter.h"
#include "server/tokenstore.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QWebSocket>

using namespace E2e;

namespace {

constexpr qint64 kJsonCap = 64 * 1024;
constexpr qint64 kFileCap = 40 * 1024 * 1024;
constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image

struct HttpResult {
    int status = 0;
    QByteArray body;
    QJsonObject json;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    QHash<QByteArray, QByteArray> headers;
    qint64 ms = 0;

    QString errorCode() const { return json[QStringLiteral("error")][QStringLiteral("code")].toString(); }
    QString describe() const { return QStringLiteral("HTTP %1 %2").arg(status).arg(QString::fromUtf8(body.left(600))); }
};

// One WebSocket exec session: every JSON message the server sent, and how
// the connection ended.
struct WsSession {
    QList<QJsonObject> messages;
    QList<qint64> arrivalMs; // since open, per message
    bool connected = false;
    bool closed = false;
    int closeCode = -1;
    QByteArray out;
    QByteArray err;

    QJsonObject last() const { return messages.isEmpty() ? QJsonObject() : messages.last(); }
    QString lastType() const { return last()[QStringLiteral("type")].toString(); }
};

} // namespace

#define REQUIRE_DRIVER() \
    if (!m_driver) \
    QFAIL(qPrintable(m_driverProblem))

class TestHttpApi : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    QString m_driverProblem;
    std::unique_ptr<Vm::VmManager> m_manager;
    std::unique_ptr<Server::Api> m_controller;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
    QByteArray m_token;
    quint16 m_port = 0;
    QNetworkAccessManager m_nam;

    void startService()
    {
        m_manager = std::make_unique<Vm::VmManager>(*m_driver);
        m_controller = std::make_unique<Server::Api>(*m_manager);
        Server::HttpAdapter::Options o;
        o.token = m_token;
        o.maxJsonBody = kJsonCap;
        o.maxFileBody = kFileCap;
        m_adapter = std::make_unique<Server::HttpAdapter>(m_controller->httpEndpoints(), o);
        auto port = m_adapter->listen(QHostAddress::LocalHost, 0);
        QVERIFY2(port, qPrintable(port ? QString() : port.error().toString()));
        m_port = *port;
        QCOMPARE(m_adapter->port(), m_port);
    }

    void stopService()
    {
        m_adapter.reset();
        m_controller.reset();
        m_manager.reset(); // kills the VMs it runs
    }

    QNetworkReply *send(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &auth,
                        const QByteArray &contentType = QByteArrayLiteral("application/json"))
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)));
        if (!auth.isNull())
            req.setRawHeader("Authorization", auth);
        if (!body.isEmpty())
            req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
        return m_nam.sendCustomRequest(req, method, body);
    }

    HttpResult finish(QNetworkReply *reply, int timeoutMs, const QElapsedTimer &timer)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!reply->isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        HttpResult r;
        r.ms = timer.elapsed();
        if (!reply->isFinished()) {
            reply->abort();
            r.errorString = QStringLiteral("no answer within %1 ms").arg(timeoutMs);
        }
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.error = reply->error();
        if (r.errorString.isEmpty())
            r.errorString = reply->errorString();
        for (const auto &[name, value] : reply->rawHeaderPairs())
            r.headers.insert(name.toLower(), value);
        r.json = QJsonDocument::fromJson(r.body).object();
        reply->deleteLater();
        return r;
    }

    HttpResult call(const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(), int timeoutMs = 30000)
    {
        return callAs(bearer(), method, path, body, timeoutMs);
    }

    HttpResult callAs(const QByteArray &auth, const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(), int timeoutMs = 30000,
                      const QByteArray &contentType = QByteArrayLiteral("application/json"))
    {
        QElapsedTimer t;
        t.start();
        return finish(send(method, path, body, auth, contentType), timeoutMs, t);
    }

    QByteArray bearer() const { return QByteArrayLiteral("Bearer ") + m_token; }

    static QByteArray json(const QJsonObject &o) { return QJsonDocument(o).toJson(QJsonDocument::Compact); }

    HttpResult exec(const QString &vm, const QJsonObject &request, int timeoutMs = 60000)
    {
        return call("POST", QStringLiteral("/api/v1/vms/%1/exec").arg(vm), json(request), timeoutMs);
    }

    // Write raw bytes on a fresh connection; read until `until` is seen, the
    // peer closes or the time is up.
    QByteArray rawExchange(const QByteArray &bytes, const QByteArray &until, int timeoutMs = 10000)
    {
        return RawHttp::exchange(m_port, bytes, until, timeoutMs);
    }

    // Open the exec WebSocket of a VM (token by header unless queryToken),
    // send the messages (the first is the exec request), wait for the close.
    WsSession webSocketExec(const QString &vm, const QList<QJsonObject> &messages, const QByteArray &auth, bool queryToken = false, int timeoutMs = 60000)
    {
        WsSession s;
        QWebSocket ws;
        QElapsedTimer t;
        t.start();
        QObject::connect(&ws, &QWebSocket::connected, &ws, [&]() {
            s.connected = true;
            for (const QJsonObject &m : messages)
                ws.sendTextMessage(QString::fromUtf8(QJsonDocument(m).toJson(QJsonDocument::Compact)));
        });
        QObject::connect(&ws, &QWebSocket::textMessageReceived, &ws, [&](const QString &text) {
            const QJsonObject o = QJsonDocument::fromJson(text.toUtf8()).object();
            s.messages << o;
            s.arrivalMs << t.elapsed();
            const QByteArray data = QByteArray::fromBase64(o[QStringLiteral("data")].toString().toLatin1());
            if (o[QStringLiteral("type")] == QLatin1String("stdout"))
                s.out += data;
            else if (o[QStringLiteral("type")] == QLatin1String("stderr"))
                s.err += data;
        });
        QObject::connect(&ws, &QWebSocket::disconnected, &ws, [&]() {
            s.closed = true;
            s.closeCode = ws.closeCode();
        });
        QUrl url(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/%2/exec/ws").arg(m_port).arg(vm));
        if (queryToken)
            url.setQuery(QStringLiteral("token=") + QString::fromUtf8(auth));
        QNetworkRequest req(url);
        if (!queryToken && !auth.isEmpty())
            req.setRawHeader("Authorization", auth);
        ws.open(req);
        QDeadlineTimer deadline(timeoutMs);
        while (!s.closed && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        return s;
    }

    static QJsonObject stdinMessage(const QByteArray &data)
    {
        return {{QStringLiteral("type"), QStringLiteral("stdin")}, {QStringLiteral("data"), QString::fromLatin1(data.toBase64())}};
    }

    static qint64 rssKiB()
    {
        QFile status(QStringLiteral("/proc/self/status"));
        if (!status.open(QIODevice::ReadOnly))
            return -1;
        for (const QByteArray &line : status.readAll().split('\n')) {
            if (line.startsWith("VmRSS:"))
                return line.mid(6).trimmed().split(' ').value(0).toLongLong();
        }
        return -1;
    }

    // A 50 GiB sparse guest file streams: Content-Length is its size, the
    // service (this process) keeps its memory flat while a few hundred MiB
    // go through, and the client closing early cancels the transfer (the
    // VM answers at once after).
    void hugeSparseFileStreams(const QString &vm)
    {
        HttpResult r = exec(vm, {{QStringLiteral("cmd"), QStringLiteral("truncate -s 50G /tmp/big")}});
        QVERIFY2(r.status == 200 && r.json[QStringLiteral("exit_code")].toInt(-1) == 0, qPrintable(r.describe()));
        QNetworkReply *reply = send("GET", QStringLiteral("/api/v1/vms/%1/files?path=/tmp/big").arg(vm), QByteArray(), bearer());
        reply->setReadBufferSize(1 << 20);
        const qint64 want = qint64(256) << 20;
        qint64 got = 0;
        qint64 baseline = -1;
        qint64 peak = 0;
        QElapsedTimer t;
        t.start();
        QDeadlineTimer deadline(600000);
        while (got < want && !reply->isFinished() && !deadline.hasExpired()) {
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
            got += reply->skip(reply->bytesAvailable());
            if (baseline < 0 && got >= (16 << 20))
                baseline = rssKiB();
            peak = qMax(peak, rssKiB());
        }
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(reply->header(QNetworkRequest::ContentLengthHeader).toLongLong(), qint64(50) << 30);
        QVERIFY2(got >= want, qPrintable(QStringLiteral("%1 bytes in %2 ms").arg(got).arg(t.elapsed())));
        qInfo("50 GiB sparse file: %lld MiB in %lld ms, RSS %lld KiB after 16 MiB, peak %lld KiB", got >> 20, t.elapsed(), baseline, peak);
        QVERIFY2(peak - baseline < 64 * 1024, qPrintable(QStringLiteral("RSS grew from %1 to %2 KiB").arg(baseline).arg(peak)));
        reply->abort();
        reply->deleteLater();
        QElapsedTimer after;
        after.start();
        r = exec(vm, {{QStringLiteral("cmd"), QStringLiteral("rm /tmp/big; echo done")}}, 60000);
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("done\n"));
        qInfo("the next exec answered %lld ms after the client closed", after.elapsed());
    }

    QStringList vmNames()
    {
        QStringList names;
        const HttpResult r = call("GET", QStringLiteral("/api/v1/vms"));
        for (const QJsonValue &v : r.json[QStringLiteral("vms")].toArray())
            names << v[QStringLiteral("name")].toString();
        return names;
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());

        auto d = driverFor(Vmm::DriverKind::Qemu);
        m_driver = d.driver;
        m_driverProblem = d.skipReason;
        if (!m_driver) // the HTTP checks do not boot anything; give them a driver anyway
            QFAIL(qPrintable(m_driverProblem));

        bool created = false;
        auto token = Server::TokenStore().loadOrCreate(&created);
        QVERIFY2(token, qPrintable(token ? QString() : token.error().toString()));
        QVERIFY(created);
        m_token = *token;
        startService();
    }

    void cleanupTestCase() { stopService(); }

    void tokenIsPrivateAndStable()
    {
        const Server::TokenStore store;
        QCOMPARE(store.path(), m_home.filePath(QStringLiteral("config/token")));
        QCOMPARE(QFile::permissions(store.path()) & ~(QFile::ReadUser | QFile::WriteUser), QFile::ReadOwner | QFile::WriteOwner);
        QCOMPARE(m_token.size(), 2 * Server::TokenStore::kTokenBytes);
        QVERIFY(QByteArray::fromHex(m_token).toHex() == m_token);
        bool created = true;
        auto again = store.loadOrCreate(&created);
        QVERIFY(again);
        QVERIFY(!created);
        QCOMPARE(*again, m_token);
        QVERIFY(Server::TokenStore::generate() != Server::TokenStore::generate());
    }

    void healthNeedsNoToken()
    {
        const HttpResult r = callAs(QByteArray(), "GET", QStringLiteral("/api/v1/health"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("status")].toString(), QStringLiteral("ok"));
        QCOMPARE(r.json[QStringLiteral("version")].toString(), QStringLiteral(MVS_VERSION));
        QVERIFY(r.headers.value("content-type").startsWith("application/json"));
    }

    // Every registered route but health, without a token, with a wrong one
    // and with another scheme.
    void protectedRoutesNeedTheToken_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("auth");
        const QStringList routes = m_adapter->routes();
        QVERIFY(routes.size() >= 16);
        for (const QString &route : routes) {
            const QByteArray method = route.section(QLatin1Char(' '), 0, 0).toLatin1();
            QString path = route.section(QLatin1Char(' '), 1);
            if (path == QLatin1String("/api/v1/health"))
                continue;
            path.replace(QStringLiteral("{name}"), QStringLiteral("x"));
            const QByteArray wrong = "Bearer " + QByteArray(m_token).replace(0, 1, m_token.startsWith('0') ? "1" : "0");
            QTest::newRow(qPrintable(route + QStringLiteral(" no token"))) << method << path << QByteArray();
            QTest::newRow(qPrintable(route + QStringLiteral(" wrong token"))) << method << path << wrong;
            QTest::newRow(qPrintable(route + QStringLiteral(" basic"))) << method << path << QByteArray("Basic " + m_token.toBase64());
            QTest::newRow(qPrintable(route + QStringLiteral(" empty bearer"))) << method << path << QByteArray("Bearer ");
        }
    }
    void protectedRoutesNeedTheToken()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, auth);
        const HttpResult r = callAs(auth, method, path, method == "GET" || method == "DELETE" ? QByteArray() : QByteArray("{}"));
        QCOMPARE(r.status, 401);
        QCOMPARE(r.errorCode(), QStringLiteral("unauthorized"));
        QVERIFY(r.headers.value("www-authenticate").startsWith("Bearer"));
    }

    void webSocketNeedsTheToken()
    {
        const QByteArray upgrade = "GET /api/v1/vms/web/exec/ws%1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%2\r\n";
        const auto exchange = [&](const QByteArray &query, const QByteArray &header) {
            QByteArray req = upgrade;
            req.replace("%1", query).replace("%2", header);
            return rawExchange(req, "\r\n\r\n");
        };
        QVERIFY(exchange("", "").startsWith("HTTP/1.1 401"));
        const QByteArray withToken = QByteArray("Authorization: Bearer ").append(m_token).append("\r\n");
        QVERIFY(exchange("", "Authorization: Bearer wrong\r\n").startsWith("HTTP/1.1 401"));
        QVERIFY(exchange("?token=wrong", "").startsWith("HTTP/1.1 401"));
        QVERIFY(exchange("", withToken).startsWith("HTTP/1.1 101"));
        QVERIFY(exchange(QByteArray("?token=").append(m_token), "").startsWith("HTTP/1.1 101"));
        // Elsewhere, an upgrade is a 404 (with a token) and a 401 (without).
        QByteArray elsewhere = upgrade;
        elsewhere.replace("/exec/ws%1", "/console").replace("%2", withToken);
        QVERIFY(rawExchange(elsewhere, "\r\n\r\n").startsWith("HTTP/1.1 404"));

        // The session itself: an unknown VM is an error message, then a close.
        const WsSession s = webSocketExec(QStringLiteral("nope"), {{{QStringLiteral("cmd"), QStringLiteral("true")}}}, m_token, true);
        QVERIFY(s.connected);
        QVERIFY(s.closed);
        QCOMPARE(s.lastType(), QStringLiteral("error"));
        QCOMPARE(s.last()[QStringLiteral("error")][QStringLiteral("code")].toString(), QStringLiteral("not_found"));
        const WsSession none = webSocketExec(QStringLiteral("nope"), {}, QByteArray());
        QVERIFY(!none.connected);

        // A plain GET of the WebSocket path says what it wants.
        const HttpResult r = call("GET", QStringLiteral("/api/v1/vms/web/exec/ws"));
        QCOMPARE(r.status, 400);
    }

    void unknownRoutesAndMethods()
    {
        HttpResult r = callAs(QByteArray(), "GET", QStringLiteral("/api/v1/nothing-here"));
        QCOMPARE(r.status, 401); // nothing is revealed without a token
        r = call("GET", QStringLiteral("/api/v1/nothing-here"));
        QCOMPARE(r.status, 404);
        QCOMPARE(r.errorCode(), QStringLiteral("not_found"));
        r = call("PATCH", QStringLiteral("/api/v1/vms"), "{}");
        QCOMPARE(r.status, 405);
        QCOMPARE(r.errorCode(), QStringLiteral("method_not_allowed"));
        QCOMPARE(r.headers.value("allow"), QByteArray("GET, POST"));
        r = call("GET", QStringLiteral("/api/v1/vms/"));
        QCOMPARE(r.status, 404);
    }

    void badRequests_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("code");
        const QString vms = QStringLiteral("/api/v1/vms");
        const QString bad = QStringLiteral("invalid_argument");
        QTest::newRow("malformed json") << QByteArray("POST") << vms << QByteArray("{\"name\": ") << 400 << QStringLiteral("invalid_json");
        QTest::newRow("json array") << QByteArray("POST") << vms << QByteArray("[1, 2]") << 400 << QStringLiteral("invalid_json");
        QTest::newRow("empty body") << QByteArray("POST") << vms << QByteArray() << 400 << QStringLiteral("invalid_json");
        QTest::newRow("binary body") << QByteArray("POST") << vms << QByteArray("\x00\xff\x01", 3) << 400 << QStringLiteral("invalid_json");
        QTest::newRow("name not a string") << QByteArray("POST") << vms << QByteArray(R"({"name": 5, "template": "minimal"})") << 400 << bad;
        QTest::newRow("name missing") << QByteArray("POST") << vms << QByteArray(R"({"template": "minimal"})") << 400 << bad;
        QTest::newRow("template missing") << QByteArray("POST") << vms << QByteArray(R"({"name": "a"})") << 400 << bad;
        QTest::newRow("template not a string") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": ["minimal"]})") << 400 << bad;
        QTest::newRow("vcpus a string") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "vcpus": "two"})") << 400 << bad;
        QTest::newRow("vcpus fractional") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "vcpus": 1.5})") << 400 << bad;
        QTest::newRow("memory a string") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "memory_mb": "512"})") << 400
                                         << bad;
        QTest::newRow("start a string") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "start": "yes"})") << 400 << bad;
        QTest::newRow("unknown field") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "colour": "red"})") << 400 << bad;
        QTest::newRow("bad name") << QByteArray("POST") << vms << QByteArray(R"({"name": "Bad_Name", "template": "minimal"})") << 400 << bad;
        QTest::newRow("name too long") << QByteArray("POST") << vms << QByteArray("{\"name\": \"" + QByteArray(64, 'a') + "\", \"template\": \"minimal\"}")
                                       << 400 << bad;
        QTest::newRow("template path") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "/etc/passwd"})") << 400 << bad;
        QTest::newRow("zero vcpus") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "vcpus": 0})") << 400 << bad;
        QTest::newRow("tiny memory") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "memory_mb": 1})") << 400 << bad;
        QTest::newRow("max_vcpus a string") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "max_vcpus": "4"})") << 400
                                            << bad;
        QTest::newRow("max_vcpus below vcpus") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "vcpus": 2, "max_vcpus": 1})")
                                               << 400 << bad;
        QTest::newRow("max_vcpus too many") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "max_vcpus": 65})") << 400
                                            << bad;
        QTest::newRow("network not an object") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "network": "egress"})") << 400
                                               << bad;
        QTest::newRow("network mode") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "network": {"mode": "bridge"}})")
                                      << 400 << bad;
        QTest::newRow("network policy field") << QByteArray(
            "POST") << vms << QByteArray(R"({"name": "a", "template": "minimal", "network": {"mode": "egress", "policy": {"default": "maybe"}}})")
                                              << 400 << bad;
        QTest::newRow("policy unknown vm") << QByteArray("GET") << QStringLiteral("/api/v1/vms/nobody/network/policy") << QByteArray() << 404
                                           << QStringLiteral("not_found");
        QTest::newRow("put policy unknown vm") << QByteArray("PUT") << QStringLiteral("/api/v1/vms/nobody/network/policy")
                                               << QByteArray(R"({"default": "deny"})") << 404 << QStringLiteral("not_found");
        QTest::newRow("unknown template") << QByteArray("POST") << vms << QByteArray(R"({"name": "a", "template": "no-such"})") << 404
                                          << QStringLiteral("not_found");
        const QString unknown = QStringLiteral("/api/v1/vms/nobody");
        const QString nf = QStringLiteral("not_found");
        QTest::newRow("get unknown vm") << QByteArray("GET") << unknown << QByteArray() << 404 << nf;
        QTest::newRow("delete unknown vm") << QByteArray("DELETE") << unknown << QByteArray() << 404 << nf;
        for (const char *action : {"start", "stop", "pause", "resume", "restart"})
            QTest::newRow(qPrintable(QStringLiteral("%1 unknown vm").arg(QLatin1String(action))))
                << QByteArray("POST") << unknown + QLatin1Char('/') + QLatin1String(action) << QByteArray() << 404 << nf;
        QTest::newRow("exec unknown vm") << QByteArray("POST") << unknown + QStringLiteral("/exec") << QByteArray(R"({"cmd": ["true"]})") << 404 << nf;
        QTest::newRow("put file unknown vm") << QByteArray("PUT") << unknown + QStringLiteral("/files?path=/tmp/x") << QByteArray("data") << 404 << nf;
        QTest::newRow("get file unknown vm") << QByteArray("GET") << unknown + QStringLiteral("/files?path=/tmp/x") << QByteArray() << 404 << nf;
        QTest::newRow("list unknown vm") << QByteArray("GET") << unknown + QStringLiteral("/files/list?path=/") << QByteArray() << 404 << nf;
        QTest::newRow("console unknown vm") << QByteArray("GET") << unknown + QStringLiteral("/console") << QByteArray() << 404 << nf;
        QTest::newRow("bad name in path") << QByteArray("GET") << QStringLiteral("/api/v1/vms/Bad_Name") << QByteArray() << 400 << bad;
        QTest::newRow("encoded slash in name") << QByteArray("GET") << QStringLiteral("/api/v1/vms/a%2Fb") << QByteArray() << 400 << bad;
        QTest::newRow("dot dot name") << QByteArray("DELETE") << QStringLiteral("/api/v1/vms/..%2E") << QByteArray() << 400 << bad;
        QTest::newRow("console bytes not a number") << QByteArray("GET") << QStringLiteral("/api/v1/vms/nobody/console?bytes=lots") << QByteArray() << 400
                                                    << bad;
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
    }

    void badInputLeavesNoVm() { QCOMPARE(vmNames(), QStringList()); }

    void oversizeBodies()
    {
        // Declared over the JSON cap: refused before the body is read.
        const QByteArray big = "{\"name\": \"a\", \"template\": \"minimal\", \"pad\": \"" + QByteArray(kJsonCap, 'x') + "\"}";
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"), big);
        QVERIFY2(r.status == 413, qPrintable(r.describe() + QLatin1Char(' ') + r.errorString));
        QCOMPARE(r.errorCode(), QStringLiteral("payload_too_large"));

        // An upload with a declared length streams (no cap): to a VM that
        // does not exist it is answered 404 at once, the body dropped.
        QByteArray huge(kFileCap + 8 * 1024 * 1024, 'z');
        r = callAs(bearer(), "PUT", QStringLiteral("/api/v1/vms/nobody/files?path=/tmp/huge"), huge, 60000, QByteArrayLiteral("application/octet-stream"));
        QVERIFY2(r.status == 404, qPrintable(r.describe() + QLatin1Char(' ') + r.errorString));
        QCOMPARE(r.errorCode(), QStringLiteral("not_found"));

        // A chunked upload (no declared length) is buffered, so capped.
        QByteArray chunked =
            "PUT /api/v1/vms/nobody/files?path=/tmp/huge HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() + "\r\nTransfer-Encoding: chunked\r\n\r\n";
        const QByteArray piece(1 << 20, 'k');
        for (qint64 sent = 0; sent <= kFileCap + (2 << 20); sent += piece.size())
            chunked += QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n";
        const QByteArray answer = rawExchange(chunked, "}", 30000);
        QVERIFY2(answer.startsWith("HTTP/1.1 413"), answer.left(300).constData());
        QVERIFY(answer.contains("payload_too_large"));

        // Without the token an upload is refused before it is read, even
        // within the file cap.
        r = callAs(QByteArray(), "PUT", QStringLiteral("/api/v1/vms/nobody/files?path=/tmp/x"), QByteArray(4 << 20, 'u'), 60000,
                   QByteArrayLiteral("application/octet-stream"));
        QVERIFY2(r.status == 401, qPrintable(r.describe() + QLatin1Char(' ') + r.errorString));
        QCOMPARE(r.errorCode(), QStringLiteral("unauthorized"));

        // The service is fine afterwards.
        r = call("GET", QStringLiteral("/api/v1/health"));
        QCOMPARE(r.status, 200);
        QCOMPARE(vmNames(), QStringList());
    }

    void rawProtocolAbuse()
    {
        // Not HTTP at all, and a request line without a path.
        QByteArray in = rawExchange("GARBAGE\r\n\r\n", "\r\n\r\n", 3000);
        QVERIFY2(!in.startsWith("HTTP/1.1 2"), in.constData());
        in = rawExchange(QByteArray(70000, 'A'), "\r\n\r\n", 3000);
        QVERIFY2(!in.startsWith("HTTP/1.1 2"), in.constData());
        // A declared JSON body over the cap is refused before it is sent.
        in = rawExchange(
            "POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() + "\r\nContent-Length: 999999999999\r\nExpect: 100-continue\r\n\r\n", "}");
        QVERIFY2(in.startsWith("HTTP/1.1 413 "), in.constData());
        QVERIFY(in.contains("payload_too_large"));
        // An upload (streamed, any size) that cannot go anywhere is refused
        // before the body is sent: no 100 Continue, the error at once.
        in = rawExchange("PUT /api/v1/vms/nobody/files?path=/x HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer()
                             + "\r\nContent-Length: 999999999999\r\nExpect: 100-continue\r\n\r\n",
                         "}");
        QVERIFY2(in.startsWith("HTTP/1.1 404 "), in.constData());
        QVERIFY(in.contains("not_found"));
        // "Expect: 100-continue" within the cap gets its 100.
        in = rawExchange("POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() + "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                         "100 Continue\r\n\r\n");
        QVERIFY2(in.startsWith("HTTP/1.1 100 Continue\r\n\r\n"), in.constData());
        // Two requests in one write are answered in order on one connection.
        in = rawExchange("GET /api/v1/vms/nobody HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() + "\r\n\r\nGET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
                         "\"status\":\"ok\"");
        QVERIFY2(in.startsWith("HTTP/1.1 404 "), in.constData());
        QVERIFY2(in.indexOf("not_found") < in.indexOf("\"status\":\"ok\""), in.constData());
        QCOMPARE(call("GET", QStringLiteral("/api/v1/health")).status, 200);
    }

    void templatesListed()
    {
        const HttpResult r = call("GET", QStringLiteral("/api/v1/templates"));
        QCOMPARE(r.status, 200);
        bool minimal = false;
        for (const QJsonValue &t : r.json[QStringLiteral("templates")].toArray())
            minimal |= t[QStringLiteral("name")].toString() == QLatin1String("minimal") && t[QStringLiteral("vcpus")].toInt() >= 1;
        QVERIFY2(minimal, r.body.constData());
    }

    void createWithoutStartThenDelete()
    {
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "idle", "template": "minimal", "start": false, "memory_mb": 300})");
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("created"));
        QCOMPARE(r.json[QStringLiteral("memory_mb")].toInt(), 300);
        QCOMPARE(r.json[QStringLiteral("max_vcpus")].toInt(), r.json[QStringLiteral("vcpus")].toInt()); // no room asked for
        // Room for vCPUs added while it runs, set while it is stopped.
        r = call("PATCH", QStringLiteral("/api/v1/vms/idle/resources"), R"({"max_vcpus": 3})");
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("max_vcpus")].toInt(), 3);
        r = call("PATCH", QStringLiteral("/api/v1/vms/idle/resources"), R"({"max_vcpus": true})");
        QCOMPARE(r.status, 400);
        r = call("PATCH", QStringLiteral("/api/v1/vms/idle/resources"), R"({"vcpus": 4})");
        QCOMPARE(r.status, 400); // above its max_vcpus
        QCOMPARE(r.errorCode(), QStringLiteral("invalid_argument"));
        r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "idle", "template": "minimal", "start": false})");
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("already_exists"));
        r = exec(QStringLiteral("idle"), {{QStringLiteral("cmd"), QStringLiteral("true")}});
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("invalid_state"));
        r = call("POST", QStringLiteral("/api/v1/vms/idle/pause"));
        QCOMPARE(r.status, 409);
        r = call("GET", QStringLiteral("/api/v1/vms/idle/console"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray());
        r = call("DELETE", QStringLiteral("/api/v1/vms/idle"));
        QCOMPARE(r.status, 200);
        QCOMPARE(vmNames(), QStringList());
        QVERIFY(!QFile::exists(m_home.filePath(QStringLiteral("data/vms/idle.json"))));
    }

    // A VM's network is chosen at create (the template's, or the request's
    // "network") and kept in its record; its policy is read and replaced
    // whole, with errors naming the field; a VM without a NIC has none.
    void networkChosenAtCreateAndPolicyReplaced()
    {
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"),
                            R"({"name": "netted", "template": "minimal", "start": false,
                                "network": {"mode": "egress", "policy": {"default": "deny", "allow": ["allowed.test"]}}})");
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        const QJsonObject net = r.json[QStringLiteral("network")].toObject();
        QCOMPARE(net[QStringLiteral("mode")].toString(), QStringLiteral("egress"));
        const QString mac = net[QStringLiteral("mac")].toString();
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")).match(mac).hasMatch(), qPrintable(mac));
        r = call("GET", QStringLiteral("/api/v1/vms/netted/network/policy"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("default")].toString(), QStringLiteral("deny"));
        QCOMPARE(r.json[QStringLiteral("allow")].toArray().size(), 1);

        r = call("PUT", QStringLiteral("/api/v1/vms/netted/network/policy"), R"({"default": "deny", "allow": [{"domain": "*.test", "ports": ["80/tcp"]}]})");
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        r = call("GET", QStringLiteral("/api/v1/vms/netted/network/policy"));
        QCOMPARE(r.json[QStringLiteral("allow")].toArray().at(0).toObject()[QStringLiteral("domain")].toString(), QStringLiteral("*.test"));
        r = call("PUT", QStringLiteral("/api/v1/vms/netted/network/policy"), R"({"default": "deny", "allow": [{"cidr": "10.1.2.3/8"}]})");
        QCOMPARE(r.status, 400);
        QVERIFY2(r.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QLatin1String("policy.allow[0].cidr")),
                 qPrintable(r.describe()));
        r = call("PUT", QStringLiteral("/api/v1/vms/netted/network/policy"), R"({"default": "deny", "colour": "red"})");
        QCOMPARE(r.status, 400);
        r = call("GET", QStringLiteral("/api/v1/vms/netted/network/policy"));
        QCOMPARE(r.json[QStringLiteral("allow")].toArray().at(0).toObject()[QStringLiteral("domain")].toString(), QStringLiteral("*.test"));
        // The record holds it (a service restart reads it back).
        QFile record(m_home.filePath(QStringLiteral("data/vms/netted.json")));
        QVERIFY(record.open(QIODevice::ReadOnly));
        QVERIFY(record.readAll().contains("*.test"));

        r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "netted2", "template": "minimal", "start": false, "network": {"mode": "egress"}})");
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QVERIFY(r.json[QStringLiteral("network")].toObject()[QStringLiteral("mac")].toString() != mac);

        r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "unnetted", "template": "minimal", "start": false})");
        QCOMPARE(r.json[QStringLiteral("network")].toObject()[QStringLiteral("mode")].toString(), QStringLiteral("none"));
        r = call("GET", QStringLiteral("/api/v1/vms/unnetted/network/policy"));
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("invalid_state"));
        for (const char *vm : {"netted", "netted2", "unnetted"})
            QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/") + QLatin1String(vm)).status, 200);
    }

    void guestLifecycle()
    {
        REQUIRE_DRIVER();
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "web", "template": "minimal", "start": true})", kCreateTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
        QCOMPARE(r.json[QStringLiteral("desired_state")].toString(), QStringLiteral("running"));
        qInfo("created and booted in %lld ms (boot %d ms, %s)", r.ms, r.json[QStringLiteral("boot_ms")].toInt(),
              r.json[QStringLiteral("accelerated")].toBool() ? "KVM" : "TCG");

        r = call("GET", QStringLiteral("/api/v1/vms/web"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));

        // exec: argv, then a shell string with stderr and an exit code
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QJsonArray{QStringLiteral("echo"), QStringLiteral("hello"), QStringLiteral("world")}}});
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("hello world\n"));
        QCOMPARE(r.json[QStringLiteral("stderr")].toString(), QString());
        QCOMPARE(r.json[QStringLiteral("exit_code")].toInt(-1), 0);
        QCOMPARE(r.json[QStringLiteral("timed_out")].toBool(true), false);
        QVERIFY(r.json[QStringLiteral("duration_ms")].isDouble());
        QVERIFY(!r.json.contains(QStringLiteral("signal")));

        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("echo to-out; echo to-err >&2; exit 3")}});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("to-out\n"));
        QCOMPARE(r.json[QStringLiteral("stderr")].toString(), QStringLiteral("to-err\n"));
        QCOMPARE(r.json[QStringLiteral("exit_code")].toInt(), 3);

        r = exec(QStringLiteral("web"),
                 {{QStringLiteral("cmd"), QStringLiteral("echo \"$GREETING\"; pwd; cat")},
                  {QStringLiteral("env"), QJsonObject{{QStringLiteral("GREETING"), QStringLiteral("hi there")}}},
                  {QStringLiteral("cwd"), QStringLiteral("/tmp")},
                  {QStringLiteral("stdin"), QStringLiteral("from stdin\n")}});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("hi there\n/tmp\nfrom stdin\n"));

        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("sleep 60")}, {QStringLiteral("timeout_s"), 1}});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("timed_out")].toBool(), true);
        QCOMPARE(r.json[QStringLiteral("signal")].toInt(), 9);
        QVERIFY(r.json[QStringLiteral("exit_code")].isNull());

        // exec input errors on a running VM
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), 42}});
        QCOMPARE(r.status, 400);
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QJsonArray{QStringLiteral("echo"), 1}}});
        QCOMPARE(r.status, 400);
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("timeout_s"), -1}});
        QCOMPARE(r.status, 400);
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("env"), QJsonObject{{QStringLiteral("A"), 1}}}});
        QCOMPARE(r.status, 400);
        r = call("POST", QStringLiteral("/api/v1/vms/web/exec"), "not json");
        QCOMPARE(r.status, 400);
        QCOMPARE(r.errorCode(), QStringLiteral("invalid_json"));

        // 32 MiB up and down, the same bytes on both sides
        QByteArray data(32 * 1024 * 1024, Qt::Uninitialized);
        QRandomGenerator gen(4321);
        gen.fillRange(reinterpret_cast<quint32 *>(data.data()), data.size() / 4);
        const QByteArray hash = QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
        r = callAs(bearer(), "PUT", QStringLiteral("/api/v1/vms/web/files?path=/tmp/up/big.bin&mode=0640"), data, 300000,
                   QByteArrayLiteral("application/octet-stream"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("size")].toInteger(), qint64(data.size()));
        const qint64 putMs = r.ms;
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("sha256sum /tmp/up/big.bin | cut -d' ' -f1; stat -c %a /tmp/up/big.bin")}},
                 120000);
        QCOMPARE(r.json[QStringLiteral("stdout")].toString().toLatin1(), hash + "\n640\n");
        r = call("GET", QStringLiteral("/api/v1/vms/web/files?path=/tmp/up/big.bin"), QByteArray(), 300000);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.headers.value("content-type"), QByteArray("application/octet-stream"));
        QCOMPARE(r.body.size(), data.size());
        QCOMPARE(QCryptographicHash::hash(r.body, QCryptographicHash::Sha256).toHex(), hash);
        qInfo("32 MiB through the API: put %lld ms, get %lld ms", putMs, r.ms);

        // A declared-length upload streams to the guest: larger than the cap
        // on buffered bodies, it still goes through whole.
        {
            QByteArray over(kFileCap + 8 * 1024 * 1024, Qt::Uninitialized);
            gen.fillRange(reinterpret_cast<quint32 *>(over.data()), over.size() / 4);
            const QByteArray overHash = QCryptographicHash::hash(over, QCryptographicHash::Sha256).toHex();
            r = callAs(bearer(), "PUT", QStringLiteral("/api/v1/vms/web/files?path=/tmp/stream/over.bin"), over, 300000,
                       QByteArrayLiteral("application/octet-stream"));
            QVERIFY2(r.status == 200, qPrintable(r.describe() + QLatin1Char(' ') + r.errorString));
            QCOMPARE(r.json[QStringLiteral("size")].toInteger(), qint64(over.size()));
            qInfo("%lld MiB streamed upload (over the %lld MiB buffered cap): %lld ms", qint64(over.size() >> 20), kFileCap >> 20, r.ms);
            HttpResult h = exec(QStringLiteral("web"),
                                {{QStringLiteral("cmd"), QStringLiteral("sha256sum /tmp/stream/over.bin | cut -d' ' -f1; rm /tmp/stream/over.bin")}}, 120000);
            QCOMPARE(h.json[QStringLiteral("stdout")].toString().toLatin1(), overHash + "\n");

            // A client that goes away midway leaves nothing in the guest.
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, m_port);
            QVERIFY(socket.waitForConnected(5000));
            socket.write("PUT /api/v1/vms/web/files?path=/tmp/stream/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer()
                         + "\r\nContent-Length: 10485760\r\n\r\n" + QByteArray(1 << 20, 'c'));
            QVERIFY(socket.waitForBytesWritten(5000));
            QTest::qWait(300);
            socket.abort();
            QTRY_VERIFY_WITH_TIMEOUT(
                exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("ls -A /tmp/stream")}}).json[QStringLiteral("stdout")].toString().isEmpty(),
                15000);
        }

        r = call("GET", QStringLiteral("/api/v1/vms/web/files/list?path=/tmp/up"));
        QCOMPARE(r.status, 200);
        const QJsonArray entries = r.json[QStringLiteral("entries")].toArray();
        QCOMPARE(entries.size(), 1);
        QCOMPARE(entries.at(0)[QStringLiteral("name")].toString(), QStringLiteral("big.bin"));
        QCOMPARE(entries.at(0)[QStringLiteral("type")].toString(), QStringLiteral("file"));
        QCOMPARE(entries.at(0)[QStringLiteral("size")].toInteger(), qint64(data.size()));
        QCOMPARE(entries.at(0)[QStringLiteral("mode")].toInt(), 0640);

        r = call("GET", QStringLiteral("/api/v1/vms/web/files?path=/no/such/file"));
        QCOMPARE(r.status, 404);
        r = call("GET", QStringLiteral("/api/v1/vms/web/files"));
        QCOMPARE(r.status, 400);
        r = call("GET", QStringLiteral("/api/v1/vms/web/files?path=relative"));
        QCOMPARE(r.status, 400);
        r = call("GET", QStringLiteral("/api/v1/vms/web/files/list?path=/no/such/dir"));
        QCOMPARE(r.status, 404);
        hugeSparseFileStreams(QStringLiteral("web"));
        if (QTest::currentTestFailed())
            return;

        // A REST exec whose client goes away is killed in the guest.
        {
            QTcpSocket client;
            client.connectToHost(QHostAddress::LocalHost, m_port);
            QVERIFY(client.waitForConnected(5000));
            const QByteArray body = R"({"cmd":"sleep 321"})";
            client.write("POST /api/v1/vms/web/exec HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer()
                         + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
            QVERIFY(client.waitForBytesWritten(5000));
            QDeadlineTimer started(30000);
            do {
                QTest::qWait(300);
                r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("ps | grep -q '[s]leep 321' && echo alive")}});
            } while (r.json[QStringLiteral("stdout")].toString() != QLatin1String("alive\n") && !started.hasExpired());
            QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("alive\n"));
            client.abort();
        }
        QDeadlineTimer killed(30000);
        do {
            QTest::qWait(500);
            r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("if ps | grep -q '[s]leep 321'; then echo alive; else echo gone; fi")}});
        } while (r.json[QStringLiteral("stdout")].toString() != QLatin1String("gone\n") && !killed.hasExpired());
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("gone\n"));

        r = call("GET", QStringLiteral("/api/v1/vms/web/console"));
        QCOMPARE(r.status, 200);
        QVERIFY(r.headers.value("content-type").startsWith("text/plain"));
        QVERIFY2(r.body.contains("mvs-init: reached"), r.body.right(2000).constData());
        r = call("GET", QStringLiteral("/api/v1/vms/web/console?bytes=10"));
        QCOMPARE(r.body.size(), 10);

        // A slow answer first, a fast one pipelined behind it: in order.
        const QByteArray slowExec = R"({"cmd": "sleep 1; echo first"})";
        QByteArray in =
            rawExchange("POST /api/v1/vms/web/exec HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer() + "\r\nContent-Type: application/json\r\nContent-Length: "
                            + QByteArray::number(slowExec.size()) + "\r\n\r\n" + slowExec + "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
                        "\"status\":\"ok\"", 30000);
        QVERIFY2(in.startsWith("HTTP/1.1 200 "), in.constData());
        QVERIFY2(in.contains("first\\n") && in.indexOf("first\\n") < in.indexOf("\"status\":\"ok\""), in.constData());

        // A client that gives up while its command runs: the answer has
        // nowhere to go, and nothing else notices.
        QNetworkReply *abandoned = send("POST", QStringLiteral("/api/v1/vms/web/exec"), R"({"cmd": "sleep 1"})", bearer());
        QTest::qWait(300);
        abandoned->abort();
        abandoned->deleteLater();
        QTest::qWait(1500);
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("echo still here")}});
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("still here\n"));

        // pause and resume
        r = call("POST", QStringLiteral("/api/v1/vms/web/pause"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("paused"));
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("true")}});
        QCOMPARE(r.status, 409);
        r = call("POST", QStringLiteral("/api/v1/vms/web/resume"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("echo back")}});
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("back\n"));
        r = call("POST", QStringLiteral("/api/v1/vms/web/start"));
        QCOMPARE(r.status, 409); // running already

        // stop: the console log stays
        r = call("POST", QStringLiteral("/api/v1/vms/web/stop"), QByteArray(), 60000);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("stopped"));
        QCOMPARE(r.json[QStringLiteral("desired_state")].toString(), QStringLiteral("stopped"));
        r = exec(QStringLiteral("web"), {{QStringLiteral("cmd"), QStringLiteral("true")}});
        QCOMPARE(r.status, 409);
        r = call("GET", QStringLiteral("/api/v1/vms/web/console"));
        QVERIFY(r.body.contains("mvs-init: reached"));

        r = call("DELETE", QStringLiteral("/api/v1/vms/web"));
        QCOMPARE(r.status, 200);
        r = call("GET", QStringLiteral("/api/v1/vms/web"));
        QCOMPARE(r.status, 404);
        QVERIFY(!QFile::exists(m_home.filePath(QStringLiteral("data/vms/web.json"))));
        QVERIFY(!QFile::exists(m_home.filePath(QStringLiteral("data/vms/web.console.log"))));
    }

    void healthAnsweredWhileBooting()
    {
        REQUIRE_DRIVER();
        QElapsedTimer createTimer;
        createTimer.start();
        QNetworkReply *create = send("POST", QStringLiteral("/api/v1/vms"), R"({"name": "slow", "template": "minimal"})", bearer());
        // Ask other things for as long as the create (boot included) runs.
        int answeredWhileStarting = 0;
        qint64 worst = 0;
        const QDeadlineTimer giveUp(kCreateTimeoutMs);
        while (!create->isFinished() && !giveUp.hasExpired()) {
            const HttpResult h = callAs(QByteArray(), "GET", QStringLiteral("/api/v1/health"), QByteArray(), 5000);
            QCOMPARE(h.status, 200);
            worst = qMax(worst, h.ms);
            const HttpResult vm = call("GET", QStringLiteral("/api/v1/vms/slow"), QByteArray(), 5000);
            worst = qMax(worst, vm.ms);
            const QString state = vm.json[QStringLiteral("state")].toString();
            if (state == QLatin1String("preparing") || state == QLatin1String("booting"))
                ++answeredWhileStarting;
            QTest::qWait(5);
        }
        const HttpResult created = finish(create, 1000, createTimer);
        QVERIFY2(created.status == 201, qPrintable(created.describe()));
        qInfo("%d health checks answered while the VM was starting (create+boot %lld ms), slowest answer %lld ms", answeredWhileStarting, created.ms, worst);
        QVERIFY(answeredWhileStarting >= 1);
        QVERIFY2(worst < 1000, qPrintable(QStringLiteral("an answer took %1 ms").arg(worst)));
    }

    void execOverWebSocket()
    {
        REQUIRE_DRIVER();
        // "slow" runs from the test before.
        // Streamed stdin in, both streams out, the exit status last.
        WsSession s = webSocketExec(QStringLiteral("slow"),
                                    {{{QStringLiteral("cmd"), QStringLiteral("cat; echo to-err >&2; exit 5")}},
                                     stdinMessage("hello "),
                                     stdinMessage("over a websocket\n"),
                                     {{QStringLiteral("type"), QStringLiteral("stdin_eof")}}},
                                    bearer());
        QVERIFY(s.connected);
        QVERIFY(s.closed);
        QCOMPARE(s.closeCode, 1000);
        QCOMPARE(s.out, QByteArray("hello over a websocket\n"));
        QCOMPARE(s.err, QByteArray("to-err\n"));
        QCOMPARE(s.lastType(), QStringLiteral("exit"));
        QCOMPARE(s.last()[QStringLiteral("exit_code")].toInt(), 5);
        QVERIFY(s.last()[QStringLiteral("signal")].isNull());
        QCOMPARE(s.last()[QStringLiteral("timed_out")].toBool(true), false);
        // It is in the VM's activity, as an exec over HTTP is (issue 19).
        const HttpResult events = call("GET", QStringLiteral("/api/v1/vms/slow/events"));
        QCOMPARE(events.status, 200);
        const QJsonObject last = events.json[QStringLiteral("events")].toArray().last().toObject();
        QCOMPARE(last[QStringLiteral("action")].toString(), QStringLiteral("exec"));
        QCOMPARE(last[QStringLiteral("detail")].toObject()[QStringLiteral("cmd")].toString(), QStringLiteral("cat; echo to-err >&2; exit 5"));
        QCOMPARE(last[QStringLiteral("detail")].toObject()[QStringLiteral("exit_code")].toInt(), 5);
        QCOMPARE(last[QStringLiteral("detail")].toObject()[QStringLiteral("streamed")].toBool(), true);

        // Output comes as it is made, not at the end; the token as a query.
        s = webSocketExec(QStringLiteral("slow"),
                          {{{QStringLiteral("cmd"), QJsonArray{QStringLiteral("sh"), QStringLiteral("-c"), QStringLiteral("echo one; sleep 2; echo two")}}}},
                          m_token, true);
        QCOMPARE(s.out, QByteArray("one\ntwo\n"));
        QVERIFY(s.messages.size() >= 3);
        QCOMPARE(s.messages.first()[QStringLiteral("type")].toString(), QStringLiteral("stdout"));
        QVERIFY2(s.arrivalMs.last() - s.arrivalMs.first() >= 1500,
                 qPrintable(QStringLiteral("first output at %1 ms, exit at %2 ms").arg(s.arrivalMs.first()).arg(s.arrivalMs.last())));
        QCOMPARE(s.last()[QStringLiteral("exit_code")].toInt(-1), 0);

        // stdin in the request, and a timeout.
        s = webSocketExec(QStringLiteral("slow"),
                          {{{QStringLiteral("cmd"), QStringLiteral("cat")}, {QStringLiteral("stdin"), QStringLiteral("given\n")}},
                           {{QStringLiteral("type"), QStringLiteral("stdin_eof")}}},
                          bearer());
        QCOMPARE(s.out, QByteArray("given\n"));
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), QStringLiteral("sleep 30")}, {QStringLiteral("timeout_s"), 1}}}, bearer());
        QCOMPARE(s.lastType(), QStringLiteral("exit"));
        QCOMPARE(s.last()[QStringLiteral("timed_out")].toBool(), true);
        QCOMPARE(s.last()[QStringLiteral("signal")].toInt(), 9);

        // The exit comes when the main process ends, stdin still open and a
        // child left in the background (which runs on); "background" is
        // for POST .../exec only.
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), QStringLiteral("sleep 331 & echo started")}, {QStringLiteral("timeout_s"), 60}}},
                          bearer());
        QCOMPARE(s.out, QByteArray("started\n"));
        QCOMPARE(s.lastType(), QStringLiteral("exit"));
        QCOMPARE(s.last()[QStringLiteral("exit_code")].toInt(-1), 0);
        QVERIFY2(s.arrivalMs.last() < 10000, qPrintable(QString::number(s.arrivalMs.last())));
        QCOMPARE(exec(QStringLiteral("slow"),
                      {{QStringLiteral("cmd"),
                        QStringLiteral(
                            "for c in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $c/cmdline 2>/dev/null)\" = 'sleep 331 ' ] && kill ${c#/proc/} && echo killed; "
                            "done; true")}})
                     .json[QStringLiteral("stdout")]
                     .toString(),
                 QStringLiteral("killed\n"));
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("background"), true}}}, bearer());
        QCOMPARE(s.lastType(), QStringLiteral("error"));
        QCOMPARE(s.last()[QStringLiteral("error")][QStringLiteral("code")].toString(), QStringLiteral("invalid_argument"));

        // A request above the agent's message limit: refused before it is
        // sent (payload_too_large, close 1009); the VM goes on.
        const QString huge = QStringLiteral("true #") + QString(2 << 20, QLatin1Char('x'));
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), huge}}}, bearer());
        QCOMPARE(s.lastType(), QStringLiteral("error"));
        QCOMPARE(s.last()[QStringLiteral("error")][QStringLiteral("code")].toString(), QStringLiteral("payload_too_large"));
        QCOMPARE(s.closeCode, 1009);
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), QStringLiteral("echo still")}}}, bearer());
        QCOMPARE(s.out, QByteArray("still\n"));

        // A malformed request: an error and a policy-violation close.
        s = webSocketExec(QStringLiteral("slow"), {{{QStringLiteral("cmd"), 42}}}, bearer());
        QCOMPARE(s.lastType(), QStringLiteral("error"));
        QCOMPARE(s.last()[QStringLiteral("error")][QStringLiteral("code")].toString(), QStringLiteral("invalid_argument"));
        QCOMPARE(s.closeCode, 1008);

        // The metrics saw the sessions.
        const HttpResult m = call("GET", QStringLiteral("/metrics"));
        QCOMPARE(m.status, 200);
        QVERIFY(m.body.contains("mvs_http_requests_total{method=\"GET\",route=\"/api/v1/vms/{name}/exec/ws\",status=\"101\"}"));
    }

    void vmsSurviveAServiceRestart()
    {
        REQUIRE_DRIVER();
        // "slow" runs from the test before; "later" was never started.
        HttpResult r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "later", "template": "minimal", "start": false, "vcpus": 2})");
        QCOMPARE(r.status, 201);
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/slow")).json[QStringLiteral("state")].toString(), QStringLiteral("running"));

        stopService(); // the VMM of "slow" dies with it
        startService();

        r = call("GET", QStringLiteral("/api/v1/vms"));
        QCOMPARE(r.status, 200);
        QHash<QString, QJsonObject> byName;
        for (const QJsonValue &v : r.json[QStringLiteral("vms")].toArray())
            byName.insert(v[QStringLiteral("name")].toString(), v.toObject());
        QCOMPARE(byName.size(), 2);
        QCOMPARE(byName[QStringLiteral("slow")][QStringLiteral("state")].toString(), QStringLiteral("stopped"));
        QCOMPARE(byName[QStringLiteral("slow")][QStringLiteral("desired_state")].toString(), QStringLiteral("running"));
        QCOMPARE(byName[QStringLiteral("later")][QStringLiteral("state")].toString(), QStringLiteral("created"));
        QCOMPARE(byName[QStringLiteral("later")][QStringLiteral("vcpus")].toInt(), 2);

        // It starts again through the new service and works.
        r = call("POST", QStringLiteral("/api/v1/vms/slow/start"), QByteArray(), kCreateTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("running"));
        r = exec(QStringLiteral("slow"), {{QStringLiteral("cmd"), QJsonArray{QStringLiteral("uname"), QStringLiteral("-s")}}});
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("Linux\n"));

        // restart keeps it usable
        r = call("POST", QStringLiteral("/api/v1/vms/slow/restart"), QByteArray(), kCreateTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        r = exec(QStringLiteral("slow"), {{QStringLiteral("cmd"), QStringLiteral("echo again")}});
        QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("again\n"));

        // Deleting a running VM stops it first.
        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/slow"), QByteArray(), 60000).status, 200);
        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/later")).status, 200);
        QCOMPARE(vmNames(), QStringList());
    }
};

QTEST_GUILESS_MAIN(TestHttpApi)
#include "tst_httpapi.moc"
