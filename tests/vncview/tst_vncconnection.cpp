// Vnc::VncConnection against a real TigerVNC Xvnc started by the test:
// TCP and Unix socket, password, framebuffer contents, pointer, keys,
// clipboard, resize, clean disconnect, and the server dying mid-session.

#include "vncview/vncconnection.h"
#include "xvncserver.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include <atomic>

#include <signal.h>

using Vnc::VncConnection;
using VncTest::XvncServer;

namespace {

bool isColour(QRgb px, QRgb want)
{
    return qAbs(qRed(px) - qRed(want)) < 16 && qAbs(qGreen(px) - qGreen(want)) < 16 && qAbs(qBlue(px) - qBlue(want)) < 16;
}

QRgb centrePixel(const VncConnection &c)
{
    const QImage img = c.snapshot();
    return img.isNull() ? 0 : img.pixel(img.width() / 2, img.height() / 2);
}

} // namespace

class TestVncConnection : public QObject {
    Q_OBJECT

private:
    // Starts a server and connects a client to it; both kept for the test.
    bool connectTo(XvncServer &server, VncConnection &conn, const XvncServer::Options &opts = {})
    {
        if (!server.start(opts)) {
            qWarning("%s", qPrintable(server.error()));
            return false;
        }
        return attach(server, conn, opts);
    }

    // Connects a client to a running server.
    bool attach(XvncServer &server, VncConnection &conn, const XvncServer::Options &opts = {})
    {
        QSignalSpy connected(&conn, &VncConnection::connected);
        if (opts.unixSocket)
            conn.connectToUnixSocket(server.socketPath());
        else
            conn.connectToHost(QStringLiteral("127.0.0.1"), server.port());
        if (!connected.wait(10000) && connected.isEmpty()) {
            qWarning("not connected: %s", qPrintable(conn.errorString()));
            return false;
        }
        QDeadlineTimer frame(10000);
        while (conn.frameCount() == 0 && !frame.hasExpired())
            QTest::qWait(10);
        return conn.frameCount() > 0;
    }

private Q_SLOTS:
    void initTestCase()
    {
        // QtNetwork ignores SIGPIPE process-wide when it opens its first
        // socket; let it, then put the default (terminate) back for the whole
        // test: writes to a dead or shut-down socket must not kill us.
        QTcpSocket().bind(QHostAddress::LocalHost, 0);
        struct sigaction dfl = {};
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, nullptr);
        if (!XvncServer::available())
            QSKIP("Xvnc is not installed (apt-get install tigervnc-standalone-server)");
        if (!XvncServer::have(QStringLiteral("xdotool")) || !XvncServer::have(QStringLiteral("xsetroot")))
            QSKIP("xdotool and xsetroot are needed (apt-get install xdotool x11-xserver-utils)");
    }

    void tcpFramebuffer()
    {
        XvncServer server;
        VncConnection conn;
        QSignalSpy connected(&conn, &VncConnection::connected);
        QSignalSpy states(&conn, &VncConnection::stateChanged);
        QVERIFY(connectTo(server, conn));
        QCOMPARE(connected.size(), 1);
        QCOMPARE(connected.first().first().toSize(), QSize(800, 600));
        QCOMPARE(conn.state(), VncConnection::State::Connected);
        QCOMPARE(conn.frameSize(), QSize(800, 600));
        QCOMPARE(conn.snapshot().format(), QImage::Format_RGB32);
        QCOMPARE(conn.desktopName(), QStringLiteral("mvs-test"));

        QSignalSpy updated(&conn, &VncConnection::frameUpdated);
        QVERIFY(server.run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#ff0000")}));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(centrePixel(conn), qRgb(255, 0, 0)), 5000);
        QVERIFY(!updated.isEmpty());
        QVERIFY(server.run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#0000ff")}));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(centrePixel(conn), qRgb(0, 0, 255)), 5000);
        // The whole frame, not just the centre, and opaque.
        const QImage img = conn.snapshot();
        QVERIFY(isColour(img.pixel(1, 599), qRgb(0, 0, 255)));
        QCOMPARE(qAlpha(img.pixel(400, 300)), 255);

        QSignalSpy disconnected(&conn, &VncConnection::disconnected);
        conn.disconnectFromServer();
        QVERIFY(disconnected.wait(5000));
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::None);
        QVERIFY(conn.waitForFinished(2000));
        QCOMPARE(conn.state(), VncConnection::State::Disconnected);
        QTRY_COMPARE(states.last().first().value<VncConnection::State>(), VncConnection::State::Disconnected);
        // The last frame stays readable.
        QVERIFY(isColour(centrePixel(conn), qRgb(0, 0, 255)));
    }

    void unixSocket()
    {
        XvncServer server;
        VncConnection conn;
        XvncServer::Options opts;
        opts.unixSocket = true;
        opts.geometry = QSize(640, 480);
        QVERIFY(connectTo(server, conn, opts));
        QCOMPARE(conn.frameSize(), QSize(640, 480));
        QVERIFY(server.run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#00ff00")}));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(centrePixel(conn), qRgb(0, 255, 0)), 5000);
    }

    void pointer()
    {
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        conn.sendPointer(123, 234, 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(123, 234), 5000);
        conn.sendPointer(700, 50, 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(700, 50), 5000);
        // Out of range is clamped to the framebuffer.
        conn.sendPointer(5000, -10, 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(799, 0), 5000);
        // A click (press + release) from another thread.
        std::unique_ptr<QThread> t(QThread::create([&conn] {
            conn.sendPointer(10, 20, VncConnection::LeftButton);
            conn.sendPointer(10, 20, 0);
        }));
        t->start();
        QVERIFY(t->wait(5000));
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(10, 20), 5000);
    }

    void keys()
    {
        if (!XvncServer::have(QStringLiteral("xterm")))
            QSKIP("xterm is not installed");
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        const QString out = server.dir() + QStringLiteral("/typed.txt");
        const QString ready = server.dir() + QStringLiteral("/ready");
        QVERIFY(server.spawn(QStringLiteral("xterm"),
                             {QStringLiteral("-geometry"), QStringLiteral("80x24+0+0"), QStringLiteral("-e"), QStringLiteral("sh"), QStringLiteral("-c"),
                              QStringLiteral("stty -echo; touch '%1'; exec cat > '%2'").arg(ready, out)}));
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(ready), 10000);
        // No window manager: keyboard focus follows the pointer.
        conn.sendPointer(100, 100, 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(100, 100), 5000);
        QTest::qWait(300);

        conn.sendText(QStringLiteral("hello "));
        QVERIFY(conn.sendKeyCombo(QStringLiteral("shift+w")));
        conn.sendText(QStringLiteral("orlx"));
        QVERIFY(conn.sendKeyCombo(QStringLiteral("BackSpace")));
        conn.sendText(QStringLiteral("d!\n"));
        QVERIFY(conn.sendKeyCombo(QStringLiteral("Return")));
        QVERIFY(!conn.sendKeyCombo(QStringLiteral("ctrl+nosuchkey")));
        const auto content = [&out] {
            QFile f(out);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        };
        QTRY_COMPARE_WITH_TIMEOUT(content(), QByteArray("hello World!\n\n"), 10000);
        // ctrl+d at the start of a line ends cat: xterm exits.
        QVERIFY(conn.sendKeyCombo(QStringLiteral("ctrl+d")));
        QTRY_VERIFY_WITH_TIMEOUT(!server.run(QStringLiteral("xdotool"), {QStringLiteral("search"), QStringLiteral("--class"), QStringLiteral("xterm")}), 10000);
    }

    void clipboard()
    {
        if (!XvncServer::have(QStringLiteral("xclip")))
            QSKIP("xclip is not installed");
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        // Client -> server: Xvnc puts it on the X clipboard.
        conn.sendClipboard(QStringLiteral("from the client"));
        QByteArray out;
        QTRY_VERIFY_WITH_TIMEOUT(
            server.run(QStringLiteral("xclip"), {QStringLiteral("-o"), QStringLiteral("-selection"), QStringLiteral("clipboard")}, 5000, &out)
                && out == "from the client",
            10000);
        // Server -> client: an X client owns the clipboard.
        QSignalSpy received(&conn, &VncConnection::clipboardReceived);
        QProcess *xclip =
            server.spawn(QStringLiteral("xclip"), {QStringLiteral("-i"), QStringLiteral("-selection"), QStringLiteral("clipboard"), QStringLiteral("-quiet")});
        QVERIFY(xclip);
        xclip->write("caf\xc3\xa9 from X");
        xclip->closeWriteChannel();
        QTRY_VERIFY_WITH_TIMEOUT(!received.isEmpty() && received.last().first().toString() == QStringLiteral("caf\u00e9 from X"), 10000);
    }

    void resize()
    {
        if (!XvncServer::have(QStringLiteral("xrandr")))
            QSKIP("xrandr is not installed");
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        QSignalSpy resized(&conn, &VncConnection::resized);
        QVERIFY(server.run(QStringLiteral("xrandr"), {QStringLiteral("-s"), QStringLiteral("1024x768")}));
        QVERIFY(resized.wait(5000) || !resized.isEmpty());
        QCOMPARE(resized.last().first().toSize(), QSize(1024, 768));
        QCOMPARE(conn.frameSize(), QSize(1024, 768));
        QVERIFY(server.run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#ff00ff")}));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(conn.snapshot().pixel(1000, 750), qRgb(255, 0, 255)), 5000);
        // And smaller again, with a snapshot held across the resize.
        const QImage held = conn.snapshot();
        QVERIFY(server.run(QStringLiteral("xrandr"), {QStringLiteral("-s"), QStringLiteral("640x480")}));
        QTRY_COMPARE_WITH_TIMEOUT(conn.frameSize(), QSize(640, 480), 5000);
        QCOMPARE(held.size(), QSize(1024, 768));
        QVERIFY(isColour(held.pixel(1000, 750), qRgb(255, 0, 255)));
        conn.sendPointer(630, 470, 0);
        QTRY_COMPARE_WITH_TIMEOUT(server.mouseLocation(), QPoint(630, 470), 5000);
    }

    void password()
    {
        XvncServer server;
        XvncServer::Options opts;
        opts.password = QStringLiteral("s3cret");
        {
            VncConnection conn;
            conn.setPassword(QStringLiteral("s3cret"));
            QVERIFY(connectTo(server, conn, opts));
            QCOMPARE(conn.frameSize(), QSize(800, 600));
        }
        for (const QString &pw : {QStringLiteral("wrong"), QString()}) {
            VncConnection conn;
            conn.setPassword(pw);
            QSignalSpy disconnected(&conn, &VncConnection::disconnected);
            conn.connectToHost(QStringLiteral("127.0.0.1"), server.port());
            QVERIFY(disconnected.wait(10000));
            QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::AuthenticationFailed);
            QVERIFY2(!disconnected.first().at(1).toString().isEmpty(), "a reason");
            QVERIFY(conn.waitForFinished(2000));
        }
    }

    void connectFailed()
    {
        VncConnection conn;
        QSignalSpy disconnected(&conn, &VncConnection::disconnected);
        QSignalSpy connected(&conn, &VncConnection::connected);
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close(); // nothing listens there now
        conn.connectToHost(QStringLiteral("127.0.0.1"), port);
        QVERIFY(disconnected.wait(10000));
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::ConnectFailed);
        QVERIFY(connected.isEmpty());
        QCOMPARE(conn.state(), VncConnection::State::Disconnected);
        QVERIFY(conn.snapshot().isNull());

        VncConnection noSocket;
        QSignalSpy d2(&noSocket, &VncConnection::disconnected);
        noSocket.connectToUnixSocket(QStringLiteral("/nonexistent/vnc.sock"));
        QVERIFY(d2.wait(10000));
        QCOMPARE(d2.first().at(0).value<VncConnection::Error>(), VncConnection::Error::ConnectFailed);
        // Input after the end is dropped, not queued forever.
        noSocket.sendKey(0x61, true);
    }

    // Stopping shuts the socket down under libvncclient, which may still
    // write to it (update requests): that must not raise a fatal SIGPIPE.
    void stopUnderLoad()
    {
        XvncServer server;
        QVERIFY2(server.start({}), qPrintable(server.error()));
        QVERIFY(server.spawn(
            QStringLiteral("sh"),
            {QStringLiteral("-c"), QStringLiteral("while :; do xsetroot -mod 3 3 -fg red -bg blue; xsetroot -mod 5 5 -fg green -bg black; done")}));
        for (int i = 0; i < 15; ++i) {
            VncConnection conn;
            QVERIFY(attach(server, conn));
            for (int k = 0; k < 50; ++k)
                conn.sendPointer(k * 7, k * 5, 0);
            QTest::qWait(20 + 10 * (i % 4));
            conn.disconnectFromServer();
            QVERIFY(conn.waitForFinished(5000));
        }
    }

    void serverKilledMidSession()
    {
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        // Keep traffic flowing while the server dies.
        QProcess *anim =
            server.spawn(QStringLiteral("sh"), {QStringLiteral("-c"), QStringLiteral("while :; do xsetroot -solid red; xsetroot -solid blue; done")});
        QVERIFY(anim);
        QTest::qWait(300);
        QSignalSpy disconnected(&conn, &VncConnection::disconnected);
        QElapsedTimer t;
        t.start();
        // Input keeps flowing from another thread while the server dies.
        std::atomic<bool> flooding{true};
        std::unique_ptr<QThread> flood(QThread::create([&] {
            for (int i = 0; flooding.load(); i = (i + 1) % 500) {
                conn.sendPointer(i, i, 0);
                QThread::usleep(20);
            }
        }));
        flood->start();
        QTest::qWait(100);
        server.kill();
        QVERIFY(disconnected.wait(5000));
        flooding = false;
        QVERIFY(flood->wait(5000));
        QCOMPARE(disconnected.first().at(0).value<VncConnection::Error>(), VncConnection::Error::ConnectionLost);
        QVERIFY(conn.waitForFinished(2000));
        QVERIFY(t.elapsed() < 5000);
        QCOMPARE(conn.state(), VncConnection::State::Disconnected);
        conn.sendPointer(1, 1, 0); // harmless
        QVERIFY(!conn.snapshot().isNull());
    }

    void destroyWhileConnected()
    {
        XvncServer server;
        auto conn = std::make_unique<VncConnection>();
        QVERIFY(connectTo(server, *conn));
        for (int i = 0; i < 100; ++i)
            conn->sendPointer(i, i, 0);
        QElapsedTimer t;
        t.start();
        conn.reset(); // stops and joins
        QVERIFY2(t.elapsed() < 2000, "the destructor must not hang");

        // stopAndDeleteLater never blocks and deletes once the thread is done.
        QPointer<VncConnection> later = new VncConnection;
        QVERIFY(attach(server, *later));
        later->stopAndDeleteLater();
        QTRY_VERIFY_WITH_TIMEOUT(later.isNull(), 5000);
    }

    void fullUpdateAndCounter()
    {
        XvncServer server;
        VncConnection conn;
        QVERIFY(connectTo(server, conn));
        QTest::qWait(200);
        const quint64 before = conn.frameCount();
        QSignalSpy updated(&conn, &VncConnection::frameUpdated);
        conn.requestFullUpdate();
        QTRY_VERIFY_WITH_TIMEOUT(conn.frameCount() > before, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(!updated.isEmpty(), 5000);
        QCOMPARE(updated.last().first().toRect(), QRect(0, 0, 800, 600));
    }
};

QTEST_GUILESS_MAIN(TestVncConnection)
#include "tst_vncconnection.moc"
