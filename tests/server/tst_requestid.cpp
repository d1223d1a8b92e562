// X-Request-Id: which incoming ids are kept (bounded length, safe
// characters) and what is made otherwise; then every kind of answer of the
// adapter carries one: routed answers (200, 201, 404, 405), 401 before a
// handler, the answers written by hand at a request's head (a chunked body
// without a token), by the raw upload path, and WebSocket upgrade refusals.
// No guest boots.

#include "servicefixture.h"
#include "../rawhttp.h"

#include "server/requestid.h"

#include <QRegularExpression>
#include <QTest>

namespace {

bool generated(const QByteArray &id)
{
    static const QRegularExpression hex(QStringLiteral("^[0-9a-f]{32}$"));
    return hex.match(QString::fromLatin1(id)).hasMatch();
}

} // namespace

using RawHttp::headerOf;

class TestRequestId : public QObject {
    Q_OBJECT

    std::unique_ptr<TestService::Service> m_service;

    // What the server answers to raw bytes: everything until it closes or
    // it has written an error body.
    QByteArray exchange(const QByteArray &bytes) { return RawHttp::exchange(m_service->port(), bytes, QByteArrayLiteral("\"error\"")); }

private Q_SLOTS:
    void initTestCase()
    {
        m_service = std::make_unique<TestService::Service>();
        QVERIFY(m_service->port());
    }
    void cleanupTestCase() { m_service.reset(); }

    void acceptsSaneIdsOnly_data()
    {
        QTest::addColumn<QByteArray>("incoming");
        QTest::addColumn<bool>("kept");
        QTest::newRow("uuid") << QByteArray("3f2c1a9e-7b1d-4c7e-9a53-0d1c2b3a4f5e") << true;
        QTest::newRow("dots, colons, underscores") << QByteArray("job.42:step_3") << true;
        QTest::newRow("trimmed") << QByteArray("  abc  ") << true;
        QTest::newRow("at the limit") << QByteArray(Server::RequestId::kMaxLength, 'a') << true;
        QTest::newRow("too long") << QByteArray(Server::RequestId::kMaxLength + 1, 'a') << false;
        QTest::newRow("empty") << QByteArray() << false;
        QTest::newRow("space") << QByteArray("a b") << false;
        QTest::newRow("quote") << QByteArray("a\"b") << false;
        QTest::newRow("newline") << QByteArray("a\nX-Evil: 1") << false;
        QTest::newRow("braces") << QByteArray("${jndi}") << false;
        QTest::newRow("utf-8") << QByteArray("caf\xc3\xa9") << false;
    }
    void acceptsSaneIdsOnly()
    {
        QFETCH(QByteArray, incoming);
        QFETCH(bool, kept);
        const QByteArray id = Server::RequestId::accept(incoming);
        if (kept)
            QCOMPARE(id, incoming.trimmed());
        else
            QVERIFY2(generated(id), id.constData());
        QVERIFY(Server::RequestId::isSane(id));
    }

    void generatedIdsDiffer()
    {
        QSet<QByteArray> ids;
        for (int i = 0; i < 1000; ++i)
            ids.insert(Server::RequestId::generate());
        QCOMPARE(ids.size(), 1000);
    }

    void routedAnswersCarryIt_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("token");
        QTest::addColumn<int>("status");
        QTest::newRow("health") << QByteArray("GET") << QStringLiteral("/api/v1/health") << false << 200;
        QTest::newRow("list") << QByteArray("GET") << QStringLiteral("/api/v1/vms") << true << 200;
        QTest::newRow("unknown VM") << QByteArray("GET") << QStringLiteral("/api/v1/vms/nope") << true << 404;
        QTest::newRow("no route") << QByteArray("GET") << QStringLiteral("/api/v1/nothing") << true << 404;
        QTest::newRow("method") << QByteArray("PATCH") << QStringLiteral("/api/v1/vms") << true << 405;
        QTest::newRow("no token") << QByteArray("GET") << QStringLiteral("/api/v1/vms") << false << 401;
        QTest::newRow("system") << QByteArray("GET") << QStringLiteral("/api/v1/system") << true << 200;
        QTest::newRow("metrics") << QByteArray("GET") << QStringLiteral("/metrics") << true << 200;
    }
    void routedAnswersCarryIt()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(bool, token);
        QFETCH(int, status);
        const TestService::Reply mine = m_service->call(method, path, {}, token, {{"X-Request-Id", "client-id-1"}});
        QCOMPARE(mine.status, status);
        QCOMPARE(mine.requestId, QByteArray("client-id-1"));
        const TestService::Reply made = m_service->call(method, path, {}, token);
        QCOMPARE(made.status, status);
        QVERIFY2(generated(made.requestId), made.requestId.constData());
        const TestService::Reply refused = m_service->call(method, path, {}, token, {{"X-Request-Id", "bad id"}});
        QVERIFY2(generated(refused.requestId), refused.requestId.constData());
    }

    void createdAndDeletedCarryIt()
    {
        const TestService::Reply c =
            m_service->call("POST", QStringLiteral("/api/v1/vms"), QByteArrayLiteral("{\"name\":\"r1\",\"template\":\"minimal\",\"start\":false}"), true,
                            {{"X-Request-Id", "create-1"}});
        QCOMPARE(c.status, 201);
        QCOMPARE(c.requestId, QByteArray("create-1"));
        const TestService::Reply d = m_service->call("DELETE", QStringLiteral("/api/v1/vms/r1"), {}, true, {{"X-Request-Id", "delete-1"}});
        QCOMPARE(d.status, 200);
        QCOMPARE(d.requestId, QByteArray("delete-1"));
    }

    // Answered at the head, by hand (no token, a chunked body).
    void refusedHeadCarriesIt()
    {
        const QByteArray answer = exchange("POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                           "X-Request-Id: head-1\r\n\r\n");
        QVERIFY2(answer.startsWith("HTTP/1.1 401"), answer.constData());
        QCOMPARE(headerOf(answer, "X-Request-Id"), QByteArray("head-1"));
        const QByteArray made = exchange("POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        QVERIFY2(generated(headerOf(made, "X-Request-Id")), made.constData());
    }

    // The raw upload path answers an unknown VM before the body.
    void uploadCarriesIt()
    {
        const QByteArray answer = exchange(QByteArray("PUT /api/v1/vms/nope/files?path=/tmp/x HTTP/1.1\r\nHost: x\r\n"
                                                      "Authorization: Bearer ")
                                           + TestService::Service::kToken + "\r\nContent-Length: 4\r\nX-Request-Id: up-1\r\n\r\nabcd");
        QVERIFY2(answer.startsWith("HTTP/1.1 404"), answer.constData());
        QCOMPARE(headerOf(answer, "X-Request-Id"), QByteArray("up-1"));
    }

    void webSocketRefusalsCarryIt_data()
    {
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<bool>("token");
        QTest::addColumn<QByteArray>("status");
        QTest::newRow("no endpoint") << QByteArray("/api/v1/nothing/ws") << true << QByteArray("404");
        QTest::newRow("no token") << QByteArray("/api/v1/vms/x/exec/ws") << false << QByteArray("401");
    }
    void webSocketRefusalsCarryIt()
    {
        QFETCH(QByteArray, path);
        QFETCH(bool, token);
        QFETCH(QByteArray, status);
        QByteArray request = "GET " + path
            + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: ws-1\r\n";
        if (token)
            request += QByteArray("Authorization: Bearer ") + TestService::Service::kToken + "\r\n";
        const QByteArray answer = exchange(request + "\r\n");
        QVERIFY2(answer.startsWith(QByteArray("HTTP/1.1 " + status)), answer.constData());
        QCOMPARE(headerOf(answer, "X-Request-Id"), QByteArray("ws-1"));
    }
};

QTEST_GUILESS_MAIN(TestRequestId)
#include "tst_requestid.moc"
