// HttpAdapter with its ConnectionGuard over loopback sockets, behind a test
// double of the routes (one whose answer the test gives when it chooses):
// an answer that comes after the connection's idle timeout reaches its
// client, even when the guard's sweep runs before the event loop has
// written the answer out.

#include "server/httpadapter.h"
#include "server/httpendpoints.h"

#include <QJsonObject>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <optional>

using namespace Server;

namespace {

constexpr int kIdleTimeoutMs = 400; // the guard sweeps every kIdleTimeoutMs / 4
constexpr int kSweepMs = kIdleTimeoutMs / 4;
constexpr int kWaitMs = 5000;

// The routes behind the adapter (a test double): GET /slow answers when
// the test resolves its promise.
struct SlowRoutes {
    Router router;
    Metrics metrics;
    std::optional<ApiPromise> pending; // the request that waits for its answer

    SlowRoutes()
    {
        router.add("GET", QStringLiteral("/slow"),
                   [this](const Request &) {
                       pending.emplace();
                       return pending->future();
                   },
                   {.needsAuth = false});
    }
    HttpEndpoints endpoints() { return {router, metrics, {}}; }
};

} // namespace

class TestHttpAdapter : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void answerAfterTheIdleTimeoutReachesTheClient()
    {
        SlowRoutes routes;
        HttpAdapter::Options options;
        options.connections.idleTimeoutMs = kIdleTimeoutMs;
        HttpAdapter adapter(routes.endpoints(), options);
        const auto port = adapter.listen(QHostAddress::LocalHost, 0);
        QVERIFY2(port, port ? "" : qPrintable(port.error().message));

        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, *port);
        QVERIFY(client.waitForConnected(kWaitMs));
        client.write("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QVERIFY(QTest::qWaitFor([&]() { return routes.pending.has_value(); }, kWaitMs));

        // Busy while its answer is awaited: not swept, however long.
        QTest::qWait(kIdleTimeoutMs + 2 * kSweepMs);
        QCOMPARE(client.state(), QAbstractSocket::ConnectedState);
        QCOMPARE(adapter.connectionCount(), 1);

        // The answer comes past the idle timeout, made by a timer (as a
        // request's deadline makes it) that fires in the same pass as the
        // guard's sweep, just before it: the thread is held until both are
        // due. The sweep then runs between the answer going into the
        // socket's buffer and the socket writing it out. (Were the sweep
        // overdue already, it would come first and find the connection
        // busy: the case would pass without the fix, never fail with it.)
        QTimer answerNow;
        answerNow.setSingleShot(true);
        answerNow.setTimerType(Qt::PreciseTimer);
        connect(&answerNow, &QTimer::timeout, this, [&routes]() { routes.pending->resolve(Response::ofJson(QJsonObject{{QStringLiteral("late"), true}})); });
        answerNow.start(0);
        QThread::msleep(2 * kSweepMs);

        QByteArray answer;
        QVERIFY(QTest::qWaitFor(
            [&]() {
                answer += client.readAll();
                return answer.contains("{\"late\":true}") || client.state() != QAbstractSocket::ConnectedState;
            },
            kWaitMs));
        answer += client.readAll();
        QVERIFY2(answer.startsWith("HTTP/1.1 200") && answer.contains("{\"late\":true}"), answer.constData());
        QCOMPARE(client.state(), QAbstractSocket::ConnectedState); // kept alive

        // Then it is idle, and closed by the idle timeout.
        QVERIFY(QTest::qWaitFor([&]() { return client.state() != QAbstractSocket::ConnectedState; }, kIdleTimeoutMs + kWaitMs));
        QCOMPARE(adapter.connectionCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestHttpAdapter)
#include "tst_httpadapter.moc"
