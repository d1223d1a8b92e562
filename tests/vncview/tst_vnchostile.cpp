// Vnc::VncConnection against a hostile VNC server (tests/vncview/
// hostilerfbserver.h, what a guest could run): a 65535x65535 screen
// announced at connection, or reached by a resize after a sane start, ends
// the connection with its own error (ScreenTooLarge) and a reason naming the
// size before anything that size is allocated; the limit is the connection's, and a screen within it connects.
// Cursor shapes the client never asked for are taken and freed (libvncclient
// 0.9.14 leaks each one's mask and the last one's pixels: the asan preset's
// LeakSanitizer reports it at exit without VncConnection's clean-up).

#include "vncview/vncconnection.h"
#include "hostilerfbserver.h"

#include <QSignalSpy>
#include <QTest>

using Vnc::VncConnection;
using VncTest::HostileRfbServer;

class TestVncHostile : public QObject {
    Q_OBJECT

    static QString reasonOf(const QSignalSpy &spy) { return spy.isEmpty() ? QString() : spy.first().at(1).toString(); }

private Q_SLOTS:
    void hugeScreenAtConnectionIsRefused()
    {
        HostileRfbServer server(QSize(65535, 65535));
        QVERIFY(server.listen());
        auto *conn = new VncConnection;
        QSignalSpy connected(conn, &VncConnection::connected);
        QSignalSpy disconnected(conn, &VncConnection::disconnected);
        conn->connectToHost(QStringLiteral("127.0.0.1"), server.port());
        QVERIFY(disconnected.wait(10000));
        QCOMPARE(connected.size(), 0);
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::ScreenTooLarge);
        QCOMPARE(conn->error(), VncConnection::Error::ScreenTooLarge);
        QVERIFY2(reasonOf(disconnected).contains(QStringLiteral("announced a 65535x65535 screen, larger than the 7680x4320")),
                 qPrintable(reasonOf(disconnected)));
        QVERIFY(conn->snapshot().isNull());
        conn->deleteLater();
    }

    void hugeResizeEndsTheConnection()
    {
        HostileRfbServer server(QSize(640, 480), QSize(65535, 65535));
        QVERIFY(server.listen());
        auto *conn = new VncConnection;
        conn->setMaxScreenSize(QSize(1280, 800));
        QSignalSpy connected(conn, &VncConnection::connected);
        QSignalSpy resized(conn, &VncConnection::resized);
        QSignalSpy disconnected(conn, &VncConnection::disconnected);
        conn->connectToHost(QStringLiteral("127.0.0.1"), server.port());
        QTRY_COMPARE_WITH_TIMEOUT(disconnected.size(), 1, 10000);
        QCOMPARE(connected.size(), 1);
        QVERIFY(server.resized());
        QCOMPARE(resized.size(), 0);
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::ScreenTooLarge);
        QCOMPARE(conn->error(), VncConnection::Error::ScreenTooLarge);
        QVERIFY2(reasonOf(disconnected).contains(QStringLiteral("announced a 65535x65535 screen, larger than the 1280x800")),
                 qPrintable(reasonOf(disconnected)));
        conn->deleteLater();
    }

    void screenWithinTheLimitConnects()
    {
        HostileRfbServer server(QSize(1280, 800));
        QVERIFY(server.listen());
        auto *conn = new VncConnection;
        conn->setMaxScreenSize(QSize(1280, 800));
        QSignalSpy connected(conn, &VncConnection::connected);
        conn->connectToHost(QStringLiteral("127.0.0.1"), server.port());
        QVERIFY(connected.wait(10000));
        QCOMPARE(conn->snapshot().size(), QSize(1280, 800));
        conn->disconnectFromServer();
        conn->deleteLater();
    }

    void cursorShapesAreFreed()
    {
        constexpr int kShapes = 20;
        HostileRfbServer server(QSize(640, 480));
        server.sendCursorShapes(kShapes, QSize(64, 64));
        QVERIFY(server.listen());
        auto *conn = new VncConnection;
        QSignalSpy connected(conn, &VncConnection::connected);
        QSignalSpy disconnected(conn, &VncConnection::disconnected);
        conn->connectToHost(QStringLiteral("127.0.0.1"), server.port());
        QVERIFY(connected.wait(10000));
        // Each shape is its own update: all were decoded once as many ended.
        QTRY_VERIFY_WITH_TIMEOUT(conn->frameCount() >= kShapes, 10000);
        QCOMPARE(conn->state(), VncConnection::State::Connected);
        conn->disconnectFromServer();
        QVERIFY(disconnected.wait(10000));
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::None);
        QVERIFY(conn->waitForFinished(10000));
        delete conn;
    }
};

QTEST_GUILESS_MAIN(TestVncHostile)
#include "tst_vnchostile.moc"
