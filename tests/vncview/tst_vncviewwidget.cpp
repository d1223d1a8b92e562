// Vnc::VncViewWidget on the offscreen platform against a real Xvnc: the
// widget shows the server's frame scaled to fit, view-only blocks input,
// and with view-only off mouse and keys reach the server.

#include "vncview/vncconnection.h"
#include "vncview/widget/vncviewwidget.h"
#include "xvncserver.h"

#include <QApplication>
#include <QSignalSpy>
#include <QTest>

using Vnc::VncConnection;
using Vnc::VncViewWidget;
using VncTest::XvncServer;

namespace {

bool isColour(QRgb px, QRgb want)
{
    return qAbs(qRed(px) - qRed(want)) < 16 && qAbs(qGreen(px) - qGreen(want)) < 16 && qAbs(qBlue(px) - qBlue(want)) < 16;
}

QRgb grabPixel(VncViewWidget &w, QPoint p)
{
    return w.grab().toImage().pixel(p);
}

} // namespace

class TestVncViewWidget : public QObject {
    Q_OBJECT

    std::unique_ptr<XvncServer> m_server;
    std::unique_ptr<VncConnection> m_conn;

private Q_SLOTS:
    void initTestCase()
    {
        if (!XvncServer::available())
            QSKIP("Xvnc is not installed (apt-get install tigervnc-standalone-server)");
        if (!XvncServer::have(QStringLiteral("xdotool")) || !XvncServer::have(QStringLiteral("xsetroot")))
            QSKIP("xdotool and xsetroot are needed (apt-get install xdotool x11-xserver-utils)");
    }

    void init()
    {
        m_server = std::make_unique<XvncServer>();
        QVERIFY2(m_server->start({}), qPrintable(m_server->error()));
        m_conn = std::make_unique<VncConnection>();
        QSignalSpy connected(m_conn.get(), &VncConnection::connected);
        m_conn->connectToHost(QStringLiteral("127.0.0.1"), m_server->port());
        QVERIFY(connected.wait(10000));
        QTRY_VERIFY_WITH_TIMEOUT(m_conn->frameCount() > 0, 10000);
    }

    void cleanup()
    {
        m_conn.reset();
        m_server.reset();
    }

    void showsFrame()
    {
        QVERIFY(m_server->run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#ff0000")}));
        VncViewWidget w;
        QVERIFY(w.isViewOnly());
        w.setConnection(m_conn.get());
        QCOMPARE(w.sizeHint(), QSize(800, 600));
        w.resize(400, 300);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(grabPixel(w, {200, 150}), qRgb(255, 0, 0)), 5000);
        QVERIFY(isColour(grabPixel(w, {1, 1}), qRgb(255, 0, 0)));
        QVERIFY(isColour(grabPixel(w, {398, 298}), qRgb(255, 0, 0)));

        // An update reaches the screen through frameUpdated -> update(rect).
        QVERIFY(m_server->run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#0000ff")}));
        QTRY_VERIFY_WITH_TIMEOUT(isColour(grabPixel(w, {200, 150}), qRgb(0, 0, 255)), 5000);

        // A wider widget letterboxes: 600x300 shows the frame at 400x300, centred.
        w.resize(600, 300);
        QTRY_COMPARE(w.frameRect(), QRectF(100, 0, 400, 300));
        const QImage shot = w.grab().toImage();
        QVERIFY(isColour(shot.pixel(50, 150), qRgb(0, 0, 0)));
        QVERIFY(isColour(shot.pixel(550, 150), qRgb(0, 0, 0)));
        QVERIFY(isColour(shot.pixel(300, 150), qRgb(0, 0, 255)));
        QCOMPARE(w.mapToFrame(QPointF(100, 0)), QPoint(0, 0));
        QCOMPARE(w.mapToFrame(QPointF(300, 150)), QPoint(400, 300));
        QCOMPARE(w.mapToFrame(QPointF(499.9, 299.9)), QPoint(799, 599));
        QCOMPARE(w.mapToFrame(QPointF(599, 299)), QPoint(799, 598)); // clamped

        // Pixels match the server's framebuffer, not just the colour fill:
        // draw a pattern with xdotool-free tools (a root bitmap).
        QVERIFY(m_server->run(QStringLiteral("xsetroot"),
                              {QStringLiteral("-mod"), QStringLiteral("16"), QStringLiteral("16"), QStringLiteral("-fg"), QStringLiteral("#ffffff"),
                               QStringLiteral("-bg"), QStringLiteral("#000000")}));
        w.resize(800, 600);
        QTRY_VERIFY_WITH_TIMEOUT(w.grab().toImage().convertToFormat(QImage::Format_RGB32) == m_conn->snapshot(), 5000);
    }

    void viewOnlyBlocksInput()
    {
        VncViewWidget w;
        w.setConnection(m_conn.get());
        w.resize(400, 300);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY(!w.frameRect().isEmpty());
        m_conn->sendPointer(10, 10, 0);
        QTRY_COMPARE_WITH_TIMEOUT(m_server->mouseLocation(), QPoint(10, 10), 5000);

        QTest::mouseMove(w.windowHandle(), QPoint(100, 75));
        QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(150, 100));
        QTest::qWait(500);
        QCOMPARE(m_server->mouseLocation(), QPoint(10, 10));

        QSignalSpy changed(&w, &VncViewWidget::viewOnlyChanged);
        w.setViewOnly(false);
        QCOMPARE(changed.size(), 1);
        QTest::mouseMove(w.windowHandle(), QPoint(50, 40)); // a new position: Qt drops repeated moves
        QTRY_COMPARE_WITH_TIMEOUT(m_server->mouseLocation(), QPoint(100, 80), 5000);
        QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(300, 200));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->mouseLocation(), QPoint(600, 400), 5000);

        w.setViewOnly(true);
        QTest::mouseMove(w.windowHandle(), QPoint(10, 10));
        QTest::qWait(500);
        QCOMPARE(m_server->mouseLocation(), QPoint(600, 400));
    }

    void keysWhenNotViewOnly()
    {
        if (!XvncServer::have(QStringLiteral("xterm")))
            QSKIP("xterm is not installed");
        const QString out = m_server->dir() + QStringLiteral("/typed.txt");
        const QString ready = m_server->dir() + QStringLiteral("/ready");
        QVERIFY(m_server->spawn(QStringLiteral("xterm"),
                                {QStringLiteral("-geometry"), QStringLiteral("80x24+0+0"), QStringLiteral("-e"), QStringLiteral("sh"), QStringLiteral("-c"),
                                 QStringLiteral("stty -echo; touch '%1'; exec cat > '%2'").arg(ready, out)}));
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(ready), 10000);
        m_conn->sendPointer(100, 100, 0); // focus follows the pointer (no window manager)
        QTRY_COMPARE_WITH_TIMEOUT(m_server->mouseLocation(), QPoint(100, 100), 5000);
        QTest::qWait(300);

        VncViewWidget w;
        w.setConnection(m_conn.get());
        w.resize(400, 300);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.setFocus();
        const auto content = [&out] {
            QFile f(out);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        };
        QTest::keyClicks(&w, QStringLiteral("blocked"));
        QTest::keyClick(&w, Qt::Key_Return);
        QTest::qWait(500);
        QCOMPARE(content(), QByteArray());

        w.setViewOnly(false);
        QTest::keyClicks(&w, QStringLiteral("Hi there"));
        QTest::keyClick(&w, Qt::Key_Backspace);
        QTest::keyClick(&w, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(content(), QByteArray("Hi ther\n"), 10000);
        // Tab goes to the remote side, not to focus navigation.
        QTest::keyClick(&w, Qt::Key_Tab);
        QTest::keyClick(&w, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(content(), QByteArray("Hi ther\n\t\n"), 10000);
    }
};

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    TestVncViewWidget t;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&t, argc, argv);
}

#include "tst_vncviewwidget.moc"
