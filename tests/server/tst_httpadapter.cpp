// HttpAdapter with its ConnectionGuard over loopback sockets, behind a test
// double of the routes (one whose answer the test gives when it chooses):
// an answer that comes after the connection's idle timeout reaches its
// client, even when the guard's sweep runs after the answer went into the
// socket's buffer and before the socket wrote it out.

#include "server/httpadapter.h"
#include "server/httpendpoints.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTest>

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

// Runs the event loop for ms without the sockets' notifiers: timers (the
// guard's sweep) run, no socket is read or written. So sweeps come between
// an answer going into its socket's buffer and the socket writing it, as
// one does in the service when a request's deadline makes the answer: a
// timer of 60 s fires on a whole second, in the same pass as the 1 s sweep
// and just before it. Needs the UNIX event dispatcher (see main()): the
// glib one runs socket notifiers regardless.
void runTimersOnly(int ms)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms)
        QCoreApplication::processEvents(QEventLoop::ExcludeSocketNotifiers | QEventLoop::WaitForMoreEvents, int(ms - t.elapsed()));
}

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

        // The answer comes past the idle timeout, and sweeps run before the
        // socket writes it out (see runTimersOnly).
        routes.pending->resolve(Response::ofJson(QJsonObject{{QStringLiteral("late"), true}}));
        runTimersOnly(kIdleTimeoutMs / 2); // two sweeps, the idle timeout not reached again
        QCOMPARE(adapter.connectionCount(), 1);

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

int main(int argc, char **argv)
{
    qputenv("QT_NO_GLIB", "1"); // the UNIX event dispatcher, for runTimersOnly()
    QCoreApplication app(argc, argv);
    TestHttpAdapter test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_httpadapter.moc"
