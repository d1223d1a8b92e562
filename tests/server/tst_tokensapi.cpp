// Scoped tokens through the real adapter and the real controllers (no
// guests: a VmManager over a driver never asked for an instance): a scripted
// session of an admin and the tokens it makes (create, a VM-prefix
// restriction, roles, a take-over, expiry, revoking a token with an open
// WebSocket), the audit log's entries for it, the limit on failed
// authentication per peer, and refused WebSocket upgrades answered whole.

#include "servicefixture.h"
#include "../rawhttp.h"
#include "server/auditlog.h"
#include "server/authratelimiter.h"
#include "server/tokenregistry.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

using Server::AuditLog;
using Server::TokenRegistry;

namespace {

constexpr char kAdmin[] = "admin-token";

// The service as app/service.cpp builds it, with a clock for the tokens.
class TokenService {
public:
    TokenService()
        : m_manager(m_driver, m_dir.filePath(QStringLiteral("vms")))
        , m_tokens(m_dir.filePath(QStringLiteral("cfg/tokens.json")), QByteArray(kAdmin), [this] { return m_now; })
        , m_audit(AuditLog::pathFor(m_dir.filePath(QStringLiteral("vms"))))
        , m_api(m_manager, nullptr, &m_tokens, &m_audit)
    {
        Server::HttpAdapter::Options o;
        o.token = kAdmin;
        m_adapter = std::make_unique<Server::HttpAdapter>(m_api.httpEndpoints(), o);
        auto port = m_adapter->listen(QHostAddress::LocalHost, 0);
        m_port = port ? *port : 0;
        m_manager.setOwnerQuota([this](const QString &owner) { return m_tokens.quotaOf(owner); }); // as app/service.cpp
    }

    TestService::Reply call(const QByteArray &token, const QByteArray &method, const QString &path, const QJsonObject &body = {},
                            QByteArray *retryAfter = nullptr)
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)));
        if (!token.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + token);
        req.setRawHeader("X-Request-Id", "req-" + method);
        const QByteArray bytes = body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson();
        if (!bytes.isEmpty())
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(req, method, bytes);
        QDeadlineTimer deadline(10000);
        while (!reply->isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        TestService::Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        if (retryAfter)
            *retryAfter = reply->rawHeader("Retry-After");
        reply->deleteLater();
        return r;
    }

    QJsonObject made(const QJsonObject &spec)
    {
        const TestService::Reply r = call(kAdmin, "POST", QStringLiteral("/api/v1/tokens"), spec);
        return r.status == 201 ? QJsonDocument::fromJson(r.body).object() : QJsonObject{{QStringLiteral("status"), r.status}};
    }

    quint16 port() const { return m_port; }
    QUrl wsUrl(const QString &path) const { return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(m_port).arg(path)); }
    QString dir() const { return m_dir.path(); }
    TokenRegistry &tokens() { return m_tokens; }

    QDateTime m_now = QDateTime::currentDateTimeUtc();

private:
    QTemporaryDir m_dir;
    TestService::NoDriver m_driver;
    Vm::VmManager m_manager;
    TokenRegistry m_tokens;
    AuditLog m_audit;
    Server::Api m_api;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
    QNetworkAccessManager m_nam;
    quint16 m_port = 0;
};

QByteArray secretOf(const QJsonObject &token)
{
    return token.value(QStringLiteral("secret")).toString().toLatin1();
}

// A WebSocket upgrade of path with the token, written by hand: the bytes
// of the answer, until the server closes (a refusal closes the connection).
QByteArray upgrade(quint16 port, const QByteArray &path, const QByteArray &token)
{
    return RawHttp::exchange(port,
                             "GET " + path
                                 + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: ws-1\r\n"
                                   "Authorization: Bearer "
                                 + token + "\r\n\r\n");
}
using RawHttp::headerOf;

// An answer with its whole JSON error body (as long as its Content-Length
// says), its X-Request-Id and a closing connection.
bool wholeRefusal(const QByteArray &answer, const QByteArray &status)
{
    const QByteArray body = answer.mid(answer.indexOf("\r\n\r\n") + 4);
    return answer.startsWith(QByteArray("HTTP/1.1 " + status)) && headerOf(answer, "Content-Length").toInt() == body.size() && body.contains("\"error\"")
        && headerOf(answer, "X-Request-Id") == "ws-1" && headerOf(answer, "Connection") == "close";
}

bool waitFor(const std::function<bool()> &done, int ms = 10000)
{
    QDeadlineTimer deadline(ms);
    while (!done() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    return done();
}

} // namespace

class TestTokensApi : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void scriptedSessionAndItsAudit()
    {
        TokenService s;
        // An operator kept to ci-*, a viewer, shown their secrets once.
        const QJsonObject op = s.made({{QStringLiteral("role"), QStringLiteral("operator")},
                                       {QStringLiteral("vms"), QStringLiteral("ci-*")},
                                       {QStringLiteral("name"), QStringLiteral("ci bot")}});
        QVERIFY2(op.contains(QStringLiteral("secret")), QJsonDocument(op).toJson().constData());
        const QString opId = op.value(QStringLiteral("id")).toString();
        const QJsonObject viewer = s.made({{QStringLiteral("role"), QStringLiteral("viewer")}});
        const QByteArray opSecret = secretOf(op), viewerSecret = secretOf(viewer);
        QVERIFY(opSecret.startsWith("mvs_"));

        // Listed without secrets.
        const TestService::Reply list = s.call(kAdmin, "GET", QStringLiteral("/api/v1/tokens"));
        QCOMPARE(list.status, 200);
        QVERIFY(list.body.contains(opId.toLatin1()));
        QVERIFY(!list.body.contains(opSecret));
        QVERIFY(!list.body.contains("sha256"));

        // The operator: its own prefix passes authorization (the VM is
        // missing: 404), another prefix is 403, creating one too.
        QCOMPARE(s.call(opSecret, "GET", QStringLiteral("/api/v1/vms")).status, 200);
        QCOMPARE(s.call(opSecret, "POST", QStringLiteral("/api/v1/vms"),
                        {{QStringLiteral("name"), QStringLiteral("prod-1")}, {QStringLiteral("template"), QStringLiteral("minimal")}})
                     .status,
                 403);
        QVERIFY(s.call(opSecret, "POST", QStringLiteral("/api/v1/vms"),
                       {{QStringLiteral("name"), QStringLiteral("ci-1")}, {QStringLiteral("template"), QStringLiteral("no-such-template")}})
                    .status
                != 403);
        QCOMPARE(s.call(opSecret, "POST", QStringLiteral("/api/v1/vms/ci-1/exec"), {{QStringLiteral("cmd"), QJsonArray{QStringLiteral("true")}}}).status, 404);
        QCOMPARE(s.call(opSecret, "DELETE", QStringLiteral("/api/v1/vms/prod-1")).status, 403);
        QCOMPARE(s.call(opSecret, "DELETE", QStringLiteral("/api/v1/vms/ci-1")).status, 404);
        // A take-over of a desktop (no display hub here: 501, still audited).
        QCOMPARE(s.call(opSecret, "POST", QStringLiteral("/api/v1/vms/ci-1/display/control"), {{QStringLiteral("controller"), QStringLiteral("human")}}).status,
                 501);
        // Not the admin's routes, nor an admin route.
        QCOMPARE(s.call(opSecret, "GET", QStringLiteral("/api/v1/tokens")).status, 403);
        QCOMPARE(s.call(opSecret, "PUT", QStringLiteral("/api/v1/vms/ci-1/network/policy"), {{QStringLiteral("allow"), QJsonArray()}}).status, 403);

        // The viewer reads, never drives.
        QCOMPARE(s.call(viewerSecret, "GET", QStringLiteral("/api/v1/vms/box")).status, 404);
        QCOMPARE(s.call(viewerSecret, "POST", QStringLiteral("/api/v1/vms/box/exec"), {{QStringLiteral("cmd"), QJsonArray{QStringLiteral("true")}}}).status,
                 403);
        QCOMPARE(s.call(viewerSecret, "POST", QStringLiteral("/api/v1/vms/box/input"), {{QStringLiteral("type"), QStringLiteral("key")}}).status, 403);

        // An exec WebSocket opened by the operator closes when it is revoked.
        QWebSocket ws;
        QNetworkRequest wsReq(s.wsUrl(QStringLiteral("/api/v1/vms/ci-1/exec/ws")));
        wsReq.setRawHeader("Authorization", "Bearer " + opSecret);
        ws.open(wsReq);
        QVERIFY(waitFor([&ws] { return ws.state() == QAbstractSocket::ConnectedState; }));
        QCOMPARE(s.call(kAdmin, "DELETE", QStringLiteral("/api/v1/tokens/") + opId).status, 204);
        QVERIFY(waitFor([&ws] { return ws.state() == QAbstractSocket::UnconnectedState; }));
        QCOMPARE(int(ws.closeCode()), int(QWebSocketProtocol::CloseCodePolicyViolated));
        QCOMPARE(s.call(opSecret, "GET", QStringLiteral("/api/v1/vms")).status, 401);
        QCOMPARE(s.call(kAdmin, "DELETE", QStringLiteral("/api/v1/tokens/") + opId).status, 404);

        // The audit log: the operator's changes and denials, in order.
        const TestService::Reply audit = s.call(kAdmin, "GET", QStringLiteral("/api/v1/audit?token=") + opId);
        QCOMPARE(audit.status, 200);
        const QJsonArray entries = QJsonDocument::fromJson(audit.body).object().value(QStringLiteral("entries")).toArray();
        QStringList seen;
        for (const QJsonValue &v : entries) {
            const QJsonObject e = v.toObject();
            seen << QStringLiteral("%1 %2 %3 %4")
                        .arg(e.value(QStringLiteral("method")).toString(), e.value(QStringLiteral("route")).toString(),
                             e.value(QStringLiteral("vm")).toString())
                        .arg(e.value(QStringLiteral("status")).toInt());
            QCOMPARE(e.value(QStringLiteral("role")).toString(), QStringLiteral("operator"));
            QCOMPARE(e.value(QStringLiteral("peer")).toString(), QStringLiteral("127.0.0.1"));
            QVERIFY(!e.value(QStringLiteral("time")).toString().isEmpty());
        }
        const QStringList expected{
            QStringLiteral("POST /api/v1/vms  403"),
            seen.value(1), // creating ci-1 failed for its template
            QStringLiteral("POST /api/v1/vms/{name}/exec ci-1 404"),
            QStringLiteral("DELETE /api/v1/vms/{name} prod-1 403"),
            QStringLiteral("DELETE /api/v1/vms/{name} ci-1 404"),
            QStringLiteral("POST /api/v1/vms/{name}/display/control ci-1 501"),
            QStringLiteral("GET /api/v1/tokens  403"),
            QStringLiteral("PUT /api/v1/vms/{name}/network/policy ci-1 403"),
            QStringLiteral("GET /api/v1/vms/{name}/exec/ws ci-1 101"),
        };
        QCOMPARE(seen, expected);
        QVERIFY(seen.value(1).startsWith(QStringLiteral("POST /api/v1/vms  4")));
        QCOMPARE(entries.at(0).toObject().value(QStringLiteral("request_id")).toString(), QStringLiteral("req-POST"));
        // The revocation itself, by the admin, and the refused request after it.
        const QJsonArray denied = QJsonDocument::fromJson(s.call(kAdmin, "GET", QStringLiteral("/api/v1/audit?outcome=denied&limit=1000")).body)
                                      .object()
                                      .value(QStringLiteral("entries"))
                                      .toArray();
        QCOMPARE(denied.last().toObject().value(QStringLiteral("status")).toInt(), 401);
        const QJsonArray revokes = QJsonDocument::fromJson(s.call(kAdmin, "GET", QStringLiteral("/api/v1/audit?token=token-file")).body)
                                       .object()
                                       .value(QStringLiteral("entries"))
                                       .toArray();
        QVERIFY(revokes.size() >= 4); // 2 creates, 2 revokes
        QCOMPARE(revokes.at(2).toObject().value(QStringLiteral("route")).toString(), QStringLiteral("/api/v1/tokens/{id}"));
        QCOMPARE(revokes.at(2).toObject().value(QStringLiteral("status")).toInt(), 204);
        // The store holds hashes only.
        QFile f(s.tokens().path());
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(!f.readAll().contains(viewerSecret));
    }

    void expiredTokenIs401()
    {
        TokenService s;
        const QJsonObject t = s.made({{QStringLiteral("role"), QStringLiteral("viewer")}, {QStringLiteral("expires_in_s"), 60}});
        QVERIFY(!t.value(QStringLiteral("expires")).toString().isEmpty());
        QCOMPARE(s.call(secretOf(t), "GET", QStringLiteral("/api/v1/vms")).status, 200);
        s.m_now = s.m_now.addSecs(61);
        QCOMPARE(s.call(secretOf(t), "GET", QStringLiteral("/api/v1/vms")).status, 401);
    }

    // A token's own quota bounds the VMs it makes (not the admin's), and
    // the 429 names the token; each VM says who made it.
    void tokenQuotaBoundsItsVms()
    {
        TokenService s;
        const QJsonObject t = s.made({{QStringLiteral("role"), QStringLiteral("operator")},
                                      {QStringLiteral("quota"), QJsonObject{{QStringLiteral("vms"), 1}, {QStringLiteral("memory_mb"), 600}}}});
        const QString id = t.value(QStringLiteral("id")).toString();
        QVERIFY(!id.isEmpty());
        QCOMPARE(t.value(QStringLiteral("quota")).toObject(), (QJsonObject{{QStringLiteral("vms"), 1}, {QStringLiteral("memory_mb"), 600}}));
        const auto vm = [](const char *name, int memoryMb) {
            return QJsonObject{{QStringLiteral("name"), QLatin1String(name)},
                               {QStringLiteral("template"), QStringLiteral("minimal")},
                               {QStringLiteral("memory_mb"), memoryMb},
                               {QStringLiteral("start"), false}};
        };
        const TestService::Reply a = s.call(secretOf(t), "POST", QStringLiteral("/api/v1/vms"), vm("a", 512));
        QCOMPARE(a.status, 201);
        QCOMPARE(QJsonDocument::fromJson(a.body).object().value(QStringLiteral("owner")).toString(), id);
        const TestService::Reply b = s.call(secretOf(t), "POST", QStringLiteral("/api/v1/vms"), vm("b", 512));
        QCOMPARE(b.status, 429);
        QVERIFY2(b.body.contains(QStringLiteral("quota exceeded: token %1: vms: 1 in use + 1 asked > 1 allowed (over by 1)").arg(id).toUtf8()),
                 b.body.constData());
        // The admin is not held to the token's quota.
        const TestService::Reply c = s.call(kAdmin, "POST", QStringLiteral("/api/v1/vms"), vm("c", 512));
        QCOMPARE(c.status, 201);
        QCOMPARE(QJsonDocument::fromJson(c.body).object().value(QStringLiteral("owner")).toString(), QStringLiteral("token-file"));
        // Room again after its VM goes; a VM too large for its memory is not made.
        QCOMPARE(s.call(secretOf(t), "DELETE", QStringLiteral("/api/v1/vms/a")).status / 100, 2);
        const TestService::Reply big = s.call(secretOf(t), "POST", QStringLiteral("/api/v1/vms"), vm("big", 1024));
        QCOMPARE(big.status, 429);
        QVERIFY2(big.body.contains("memory: 0 MiB in use + 1024 MiB asked > 600 MiB allowed"), big.body.constData());
        QCOMPARE(s.call(secretOf(t), "POST", QStringLiteral("/api/v1/vms"), vm("b", 512)).status, 201);
        // Listed with its quota; kept across a reload of the file.
        TokenRegistry again(s.tokens().path(), QByteArray(kAdmin));
        QVERIFY(again.load());
        QCOMPARE(again.quotaOf(id).maxVms, 1);
        QCOMPARE(again.quotaOf(id).maxMemoryMiB, qint64(600));
    }

    void badCreates()
    {
        TokenService s;
        for (const QJsonValue &quota : {QJsonValue(5), QJsonValue(QJsonObject{{QStringLiteral("vms"), 0}}),
                                        QJsonValue(QJsonObject{{QStringLiteral("disk"), 1}}), QJsonValue(QJsonObject{{QStringLiteral("vcpus"), 1.5}})}) {
            const QJsonObject r = s.made({{QStringLiteral("role"), QStringLiteral("viewer")}, {QStringLiteral("quota"), quota}});
            QCOMPARE(r.value(QStringLiteral("status")).toInt(), 400);
        }
        QCOMPARE(s.made({{QStringLiteral("role"), QStringLiteral("root")}}).value(QStringLiteral("status")).toInt(), 400);
        QCOMPARE(s.made({{QStringLiteral("role"), QStringLiteral("viewer")}, {QStringLiteral("vms"), QStringLiteral("a/b")}})
                     .value(QStringLiteral("status"))
                     .toInt(),
                 400);
        QCOMPARE(s.made({{QStringLiteral("role"), QStringLiteral("viewer")}, {QStringLiteral("expires_in_s"), 0}}).value(QStringLiteral("status")).toInt(),
                 400);
        // An admin kept to some VMs cannot make tokens.
        const QJsonObject narrow = s.made({{QStringLiteral("role"), QStringLiteral("admin")}, {QStringLiteral("vms"), QStringLiteral("ci-*")}});
        QCOMPARE(s.call(secretOf(narrow), "POST", QStringLiteral("/api/v1/tokens"), {{QStringLiteral("role"), QStringLiteral("admin")}}).status, 403);
    }

    // After kMaxFailures bad tokens from one peer: 429 with Retry-After,
    // for every credential, and the denials are audited.
    void rateLimitAfterBadTokens()
    {
        TokenService s;
        for (int i = 0; i < Server::AuthRateLimiter::kMaxFailures; ++i)
            QCOMPARE(s.call(QByteArrayLiteral("mvs_nope_%1").replace("%1", QByteArray::number(i)), "GET", QStringLiteral("/api/v1/vms")).status, 401);
        QByteArray retryAfter;
        QCOMPARE(s.call(QByteArrayLiteral("wrong"), "GET", QStringLiteral("/api/v1/vms"), {}, &retryAfter).status, 429);
        QVERIFY(retryAfter.toInt() >= 1 && retryAfter.toInt() <= Server::AuthRateLimiter::kWindowMs / 1000);
        QCOMPARE(s.call(kAdmin, "GET", QStringLiteral("/api/v1/vms")).status, 429);
        QCOMPARE(s.call(QByteArray(), "GET", QStringLiteral("/api/v1/health")).status, 200); // public routes stay open
        const QList<QJsonObject> entries = AuditLog(AuditLog::pathFor(s.dir() + QStringLiteral("/vms"))).read({{}, {}, {}, QStringLiteral("denied"), 100});
        // The 401s, and the first 429 only: a flood is not a flood of entries.
        QCOMPARE(entries.size(), Server::AuthRateLimiter::kMaxFailures + 1);
        QCOMPARE(entries.last().value(QStringLiteral("status")).toInt(), 429);
        QVERIFY(entries.first().value(QStringLiteral("token")).isNull());
    }

    // A refused WebSocket upgrade gets its refusal whole: 403 for a role
    // the route does not take, 429 once the peer is limited.
    void refusedUpgradesAnswerWhole()
    {
        TokenService s;
        const QByteArray viewerSecret = secretOf(s.made({{QStringLiteral("role"), QStringLiteral("viewer")}}));
        const QByteArray forbidden = upgrade(s.port(), "/api/v1/vms/box/exec/ws", viewerSecret);
        QVERIFY2(wholeRefusal(forbidden, "403"), forbidden.constData());
        for (int i = 0; i < Server::AuthRateLimiter::kMaxFailures; ++i)
            QCOMPARE(s.call(QByteArrayLiteral("wrong"), "GET", QStringLiteral("/api/v1/vms")).status, 401);
        const QByteArray limited = upgrade(s.port(), "/api/v1/vms/box/exec/ws", kAdmin);
        QVERIFY2(wholeRefusal(limited, "429"), limited.constData());
        QVERIFY(headerOf(limited, "Retry-After").toInt() >= 1);
    }
};

QTEST_GUILESS_MAIN(TestTokensApi)
#include "tst_tokensapi.moc"
