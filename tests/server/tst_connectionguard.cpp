// ConnectionGuard over real loopback sockets: the cap evicts the oldest
// connection that is not busy (and refuses when all are), a head that does
// not complete in time and an idle connection are closed, a busy one is
// not, reading is held while answers are unread and resumed once they drain,
// and accepting resumes after an accept error.

#include "server/connectionguard.h"

#include <QSet>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <memory>
#include <sys/resource.h>
#include <vector>

using Server::ConnectionGuard;

namespace {

constexpr int kWaitMs = 5000;

// A listening server and connected pairs (client, server side).
struct Loopback {
    QTcpServer server;
    std::vector<std::unique_ptr<QTcpSocket>> clients;

    Loopback() { server.listen(QHostAddress::LocalHost, 0); }

    // A new connection; its server side (owned by the server), or nullptr.
    QTcpSocket *connectOne()
    {
        auto client = std::make_unique<QTcpSocket>();
        client->connectToHost(QHostAddress::LocalHost, server.serverPort());
        if (!client->waitForConnected(kWaitMs) || !server.waitForNewConnection(kWaitMs))
            return nullptr;
        clients.push_back(std::move(client));
        return server.nextPendingConnection();
    }
};

bool closedWithin(QTcpSocket *serverSide, int ms)
{
    return QTest::qWaitFor([&]() { return serverSide->state() == QAbstractSocket::UnconnectedState; }, ms);
}

} // namespace

class TestConnectionGuard : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void capEvictsTheOldestIdleConnection()
    {
        Loopback net;
        ConnectionGuard guard({.maxConnections = 3}, [](QTcpSocket *) { return false; });
        QList<QTcpSocket *> sides;
        for (int i = 0; i < 4; ++i) {
            QTcpSocket *s = net.connectOne();
            QVERIFY(s);
            QVERIFY(guard.admit(s));
            sides << s;
        }
        QCOMPARE(guard.count(), 3);
        QCOMPARE(sides[0]->state(), QAbstractSocket::UnconnectedState);
        for (int i = 1; i < 4; ++i)
            QCOMPARE(sides[i]->state(), QAbstractSocket::ConnectedState);
    }

    void capSparesBusyConnections()
    {
        Loopback net;
        QSet<QTcpSocket *> busy;
        ConnectionGuard guard({.maxConnections = 2}, [&](QTcpSocket *s) { return busy.contains(s); });
        QTcpSocket *a = net.connectOne();
        QTcpSocket *b = net.connectOne();
        QVERIFY(a && b);
        QVERIFY(guard.admit(a));
        QVERIFY(guard.admit(b));
        busy << a;
        QTcpSocket *c = net.connectOne();
        QVERIFY(c);
        QVERIFY(guard.admit(c)); // b goes, not the older but busy a
        QCOMPARE(a->state(), QAbstractSocket::ConnectedState);
        QCOMPARE(b->state(), QAbstractSocket::UnconnectedState);
        busy << c;
        QTcpSocket *d = net.connectOne();
        QVERIFY(d);
        QVERIFY(!guard.admit(d)); // all busy: the caller closes it
        QCOMPARE(guard.count(), 2);
    }

    void headMustCompleteInTime()
    {
        Loopback net;
        ConnectionGuard guard({.headTimeoutMs = 300, .idleTimeoutMs = 60000}, [](QTcpSocket *) { return false; });
        QTcpSocket *slow = net.connectOne();
        QTcpSocket *prompt = net.connectOne();
        QVERIFY(slow && prompt);
        QVERIFY(guard.admit(slow));
        QVERIFY(guard.admit(prompt));
        guard.headStarted(slow);
        guard.headStarted(prompt);
        guard.headComplete(prompt);
        QElapsedTimer t;
        t.start();
        // Later bytes do not restart the head's clock.
        QTimer::singleShot(150, slow, [&]() { guard.headStarted(slow); });
        QVERIFY(closedWithin(slow, kWaitMs));
        QVERIFY2(t.elapsed() >= 250, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(prompt->state(), QAbstractSocket::ConnectedState);
        QCOMPARE(guard.count(), 1);
    }

    void idleConnectionsCloseBusyOnesStay()
    {
        Loopback net;
        QSet<QTcpSocket *> busy;
        ConnectionGuard guard({.headTimeoutMs = 60000, .idleTimeoutMs = 300}, [&](QTcpSocket *s) { return busy.contains(s); });
        QTcpSocket *idle = net.connectOne();
        QTcpSocket *working = net.connectOne();
        QVERIFY(idle && working);
        QVERIFY(guard.admit(idle));
        QVERIFY(guard.admit(working));
        busy << working;
        QVERIFY(closedWithin(idle, kWaitMs));
        QTest::qWait(600);
        QCOMPARE(working->state(), QAbstractSocket::ConnectedState);
        busy.clear();
        QVERIFY(closedWithin(working, kWaitMs));
        QCOMPARE(guard.count(), 0);
    }

    void readingHeldUntilAnswersDrain()
    {
        Loopback net;
        constexpr qint64 kMark = 64 * 1024;
        ConnectionGuard guard({.writeHighWater = kMark}, [](QTcpSocket *) { return false; });
        QTcpSocket *side = net.connectOne();
        QVERIFY(side);
        QVERIFY(guard.admit(side));
        QTcpSocket *client = net.clients.back().get();
        client->setReadBufferSize(4096); // a client that does not read
        int resumed = 0;
        QVERIFY(!guard.holdReading(side, [&]() { ++resumed; }));
        // 8 MiB of answers a client does not read: more than the kernel buffers.
        side->write(QByteArray(8 << 20, 'x'));
        QTest::qWait(200);
        QVERIFY(side->bytesToWrite() > kMark);
        QVERIFY(guard.holdReading(side, [&]() { ++resumed; }));
        QCOMPARE(resumed, 0);
        client->setReadBufferSize(0);
        qint64 read = 0;
        QVERIFY(QTest::qWaitFor(
            [&]() {
                read += client->readAll().size();
                return resumed == 1;
            },
            kWaitMs));
        QVERIFY(side->bytesToWrite() <= kMark / 2);
    }

    void acceptResumesAfterAnError()
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        ConnectionGuard guard({}, [](QTcpSocket *) { return false; });
        guard.watch(&server);
        server.pauseAccepting(); // as Qt does on EMFILE
        Q_EMIT server.acceptError(QAbstractSocket::SocketResourceError);
        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, server.serverPort());
        QTest::qWait(ConnectionGuard::kAcceptRetryMs / 2);
        QVERIFY(!server.hasPendingConnections()); // still paused
        QVERIFY(QTest::qWaitFor([&]() { return server.hasPendingConnections(); }, ConnectionGuard::kAcceptRetryMs + kWaitMs));
    }

    void capBoundByFileDescriptors()
    {
        rlimit rl{};
        QCOMPARE(::getrlimit(RLIMIT_NOFILE, &rl), 0);
        QVERIFY(ConnectionGuard::fdBoundCap(3) == 3);
        if (rl.rlim_cur != RLIM_INFINITY)
            QCOMPARE(qint64(ConnectionGuard::fdBoundCap(1 << 30)), qint64(rl.rlim_cur / ConnectionGuard::kFdShareDivisor));
    }
};

QTEST_GUILESS_MAIN(TestConnectionGuard)
#include "tst_connectionguard.moc"
