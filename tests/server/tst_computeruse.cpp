// Computer use on a real desktop guest, through the REST service: the
// screenshot is the guest's screen, typed text and keys reach the focused
// terminal, pointer moves, clicks, drags and scrolls are seen by X clients
// inside the guest, a human taking control blocks agent input (and releasing
// it restores it), and the RFB WebSocket relay wants the token.
//
// One desktop VM per driver row (booting it is the slow part under TCG).

#include "e2efixture.h"

#include "tests/apicall.h"
#include "screenpixels.h"

#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "server/api.h"
#include "server/httpadapter.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QHostAddress>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = 20 * 60 * 1000; // the first run builds the desktop image (debootstrap)
constexpr int kDesktopTimeoutMs = 120000; // agent up -> the screen shows the desktop
constexpr int kObserveTimeoutMs = 20000; // input -> its effect seen in the guest
constexpr int kMinDrawnPixels = 100; // a prompt and a cursor, at least

using Reply = TestApi::Reply;

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestComputerUse : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::unique_ptr<Vm::VmManager> m_manager;
    std::unique_ptr<Desktop::DisplayHub> m_displays;
    std::unique_ptr<Server::Api> m_controller;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
    QByteArray m_token = QByteArrayLiteral("computer-use-test-token");
    quint16 m_port = 0;
    QNetworkAccessManager m_nam;

    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000, bool auth = true)
    {
        return TestApi::call(m_nam, m_port, auth ? m_token : QByteArray(), method, path, body, timeoutMs);
    }

    // Run a shell command in the guest (as the desktop's user sees it).
    QString sh(const QString &command, int timeoutMs = 60000)
    {
        const Reply r = call(
            "POST", QStringLiteral("/api/v1/vms/desk/exec"),
            compact({{QStringLiteral("cmd"), command}, {QStringLiteral("env"), QJsonObject{{QStringLiteral("DISPLAY"), QStringLiteral(":0")}}}}), timeoutMs);
        if (r.status != 200)
            return QStringLiteral("<exec failed: %1>").arg(r.describe());
        return r.json[QStringLiteral("stdout")].toString();
    }

    Reply input(const QJsonArray &actions, double scale = 1.0)
    {
        QJsonObject body{{QStringLiteral("actions"), actions}};
        if (scale != 1.0)
            body[QStringLiteral("scale")] = scale;
        return call("POST", QStringLiteral("/api/v1/vms/desk/input"), compact(body));
    }

    static QJsonObject act(const char *kind, QJsonObject fields = {})
    {
        fields[QStringLiteral("action")] = QLatin1String(kind);
        return fields;
    }

    // Wait until sh(command) prints something matching `pattern`.
    bool waitFor(const QString &command, const QRegularExpression &pattern, QString *last, int timeoutMs = kObserveTimeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        do {
            *last = sh(command);
            if (pattern.match(*last).hasMatch())
                return true;
            QTest::qWait(300);
        } while (!deadline.hasExpired());
        return false;
    }

    void startService(Vmm::VmmDriver &driver)
    {
        m_manager = std::make_unique<Vm::VmManager>(driver, m_home.filePath(QStringLiteral("vms")));
        m_displays = std::make_unique<Desktop::DisplayHub>(*m_manager);
        m_controller = std::make_unique<Server::Api>(*m_manager, m_displays.get());
        Server::HttpAdapter::Options o;
        o.token = m_token;
        m_adapter = std::make_unique<Server::HttpAdapter>(m_controller->httpEndpoints(), o);
        auto port = m_adapter->listen(QHostAddress::LocalHost, 0);
        QVERIFY2(port, qPrintable(port ? QString() : port.error().toString()));
        m_port = *port;
    }

    void stopService()
    {
        m_adapter.reset();
        m_controller.reset();
        m_displays.reset();
        m_manager.reset(); // stops the VMs it runs
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    }

    void desktop_data() { addDriverRows(); }

    void desktop()
    {
        E2E_DRIVER_OR_SKIP(driver);
        startService(driver);
        auto cleanup = qScopeGuard([this]() { stopService(); });

        // A VM without a desktop says so.
        QElapsedTimer t;
        t.start();
        Reply r = call("POST", QStringLiteral("/api/v1/vms"), R"({"name": "desk", "template": "desktop"})", kCreateTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        qInfo("desktop VM created and booted to its agent in %lld ms (boot %d ms)", t.elapsed(), r.json[QStringLiteral("boot_ms")].toInt());

        // The display: connects once Xvnc is up.
        t.restart();
        r = call("GET", QStringLiteral("/api/v1/vms/desk/display"), {}, kDesktopTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("connected")].toBool(), true);
        QCOMPARE(r.json[QStringLiteral("controller")].toString(), QStringLiteral("agent"));
        const int width = r.json[QStringLiteral("width")].toInt();
        const int height = r.json[QStringLiteral("height")].toInt();
        QCOMPARE(QSize(width, height), QSize(1280, 800)); // the template's geometry

        // The desktop is up once the terminal has the keyboard focus.
        QString seen;
        QVERIFY2(
            waitFor(QStringLiteral("xdotool getwindowfocus getwindowname 2>&1"), QRegularExpression(QStringLiteral("^xterm\\n$")), &seen, kDesktopTimeoutMs),
            qPrintable(QStringLiteral("the terminal never got the focus: %1").arg(seen)));
        qInfo("terminal focused %lld ms after the agent", t.elapsed());

        // The screenshot: a PNG of the guest's size, not blank (once the
        // desktop reports ready: the xterm focused, seen by the guest's own check).
        QImage shot;
        QDeadlineTimer drawn(kDesktopTimeoutMs);
        do {
            r = call("GET", QStringLiteral("/api/v1/vms/desk/screenshot?wait_s=60"), {}, kDesktopTimeoutMs);
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            QCOMPARE(r.headers.value("content-type"), QByteArray("image/png"));
            QVERIFY(shot.loadFromData(r.body, "PNG"));
            if (nonBackgroundPixels(shot) >= kMinDrawnPixels)
                break;
            QTest::qWait(500);
        } while (!drawn.hasExpired());
        QCOMPARE(shot.size(), QSize(width, height));
        QVERIFY2(nonBackgroundPixels(shot) >= kMinDrawnPixels, "the screen stayed blank");
        QCOMPARE(r.headers.value("x-screen-width"), QByteArray::number(width));
        QCOMPARE(r.headers.value("x-scale"), QByteArray("1"));
        qInfo("desktop drawn %lld ms after the agent; %d pixels off the background", t.elapsed(), nonBackgroundPixels(shot));

        // Scaled screenshots report their scale.
        r = call("GET", QStringLiteral("/api/v1/vms/desk/screenshot?scale=640x640"));
        QCOMPARE(r.status, 200);
        QVERIFY(shot.loadFromData(r.body, "PNG"));
        QCOMPARE(shot.size(), QSize(640, 400));
        QCOMPARE(r.headers.value("x-scale"), QByteArray("0.5"));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/screenshot?scale=2")).status, 400);

        // type + key into the terminal that has focus at boot; the file it
        // writes is read back through the agent.
        r = input({act("type", {{QStringLiteral("text"), QStringLiteral("echo typed-$((6*7)) ünïcödé > /tmp/typed.txt")}}),
                   act("key", {{QStringLiteral("keys"), QStringLiteral("Return")}})});
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("performed")].toInt(), 2);
        QVERIFY2(waitFor(QStringLiteral("cat /tmp/typed.txt 2>/dev/null"), QRegularExpression(QStringLiteral("^typed-42 ünïcödé\\n$")), &seen),
                 qPrintable(QStringLiteral("typed text not seen, file holds: '%1'").arg(seen)));

        // A key combination: ctrl+u clears the line, so only "ok" runs.
        r = input({act("type", {{QStringLiteral("text"), QStringLiteral("echo wrong > /tmp/combo.txt")}}),
                   act("key", {{QStringLiteral("keys"), QStringLiteral("ctrl+u")}}),
                   act("type", {{QStringLiteral("text"), QStringLiteral("echo ok > /tmp/combo.txt\n")}})});
        QCOMPARE(r.status, 200);
        QVERIFY2(waitFor(QStringLiteral("cat /tmp/combo.txt 2>/dev/null"), QRegularExpression(QStringLiteral("^ok\\n$")), &seen), qPrintable(seen));

        // move: the X server's pointer is where we put it (also through a
        // screenshot's scale).
        QCOMPARE(input({act("move", {{QStringLiteral("x"), 123}, {QStringLiteral("y"), 77}})}).status, 200);
        QVERIFY2(waitFor(QStringLiteral("xdotool getmouselocation"), QRegularExpression(QStringLiteral("^x:123 y:77 ")), &seen), qPrintable(seen));
        QCOMPARE(input({act("move", {{QStringLiteral("x"), 100}, {QStringLiteral("y"), 50}})}, 0.5).status, 200);
        QVERIFY2(waitFor(QStringLiteral("xdotool getmouselocation"), QRegularExpression(QStringLiteral("^x:200 y:100 ")), &seen), qPrintable(seen));

        // click, double click, right click, scroll and drag, seen by xev in
        // its own window (which the window manager shows full screen).
        sh(QStringLiteral("(xev -event button > /tmp/xev.log 2>&1 &) ; sleep 0.2"));
        QVERIFY2(waitFor(QStringLiteral("xdotool search --name 'Event Tester' getwindowgeometry"), QRegularExpression(QStringLiteral("Geometry")), &seen),
                 qPrintable(seen));
        QTest::qWait(500); // mapped and drawn
        r = input({act("click", {{QStringLiteral("x"), 400}, {QStringLiteral("y"), 300}}),
                   act("click", {{QStringLiteral("x"), 410}, {QStringLiteral("y"), 310}, {QStringLiteral("count"), 2}}),
                   act("click", {{QStringLiteral("button"), QStringLiteral("right")}}), act("scroll", {{QStringLiteral("dy"), 2}}),
                   act("drag", {{QStringLiteral("x"), 300}, {QStringLiteral("y"), 200}, {QStringLiteral("to_x"), 500}, {QStringLiteral("to_y"), 260}})});
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        const auto count = [&](const QString &what) { return sh(QStringLiteral("grep -c '%1' /tmp/xev.log").arg(what)).trimmed().toInt(); };
        QDeadlineTimer events(kObserveTimeoutMs);
        while (count(QStringLiteral("ButtonRelease")) < 7 && !events.hasExpired())
            QTest::qWait(300);
        const QString log = sh(QStringLiteral("grep -A2 -E 'ButtonPress|ButtonRelease' /tmp/xev.log | grep -oE "
                                              "'(ButtonPress|ButtonRelease)|\\(-?[0-9]+,-?[0-9]+\\)|button [0-9]+' | paste -sd' '"));
        qInfo("xev saw: %s", qPrintable(log.trimmed()));
        // 1 + 2 left clicks, 1 right, 2 wheel notches (button 5), 1 drag.
        QCOMPARE(sh(QStringLiteral("grep -c 'button 1,' /tmp/xev.log")).trimmed().toInt(), 2 * (1 + 2 + 1));
        QCOMPARE(sh(QStringLiteral("grep -c 'button 3,' /tmp/xev.log")).trimmed().toInt(), 2);
        QCOMPARE(sh(QStringLiteral("grep -c 'button 5,' /tmp/xev.log")).trimmed().toInt(), 2 * 2);
        QVERIFY2(log.contains(QStringLiteral("ButtonPress (300,200)")) || log.contains(QStringLiteral("(300,200)")), qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("(500,260)")), qPrintable(log));
        sh(QStringLiteral("pkill xev"));

        // The events stream (issue 19): what a script sends through the API
        // reaches a WebSocket client in order, with its coordinates, text and
        // keys; exec shows too; the kept history has the same.
        {
            QWebSocket stream;
            QList<QJsonObject> got;
            QObject::connect(&stream, &QWebSocket::textMessageReceived, &stream,
                             [&](const QString &m) { got.append(QJsonDocument::fromJson(m.toUtf8()).object()); });
            QNetworkRequest req(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/desk/events/ws").arg(m_port)));
            req.setRawHeader("Authorization", "Bearer " + m_token);
            stream.open(req);
            QTRY_COMPARE_WITH_TIMEOUT(stream.state(), QAbstractSocket::ConnectedState, 10000);
            r = input({act("click", {{QStringLiteral("x"), 640}, {QStringLiteral("y"), 400}}), act("type", {{QStringLiteral("text"), QStringLiteral("abc")}}),
                       act("key", {{QStringLiteral("keys"), QStringLiteral("ctrl+c")}})});
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            QCOMPARE(sh(QStringLiteral("echo hi")), QStringLiteral("hi\n"));
            QTRY_VERIFY_WITH_TIMEOUT(got.size() >= 4, 10000);
            QStringList actions;
            for (const QJsonObject &e : got)
                actions.append(e.value(QStringLiteral("action")).toString());
            QCOMPARE(actions.mid(0, 4), (QStringList{QStringLiteral("click"), QStringLiteral("type"), QStringLiteral("key"), QStringLiteral("exec")}));
            const QJsonObject click = got[0].value(QStringLiteral("detail")).toObject();
            QCOMPARE(click.value(QStringLiteral("x")).toInt(), 640);
            QCOMPARE(click.value(QStringLiteral("y")).toInt(), 400);
            QCOMPARE(got[0].value(QStringLiteral("result")).toString(), QStringLiteral("ok"));
            QCOMPARE(got[1].value(QStringLiteral("detail")).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("abc"));
            QCOMPARE(got[2].value(QStringLiteral("detail")).toObject().value(QStringLiteral("keys")).toString(), QStringLiteral("ctrl+c"));
            QCOMPARE(got[3].value(QStringLiteral("detail")).toObject().value(QStringLiteral("cmd")).toString(), QStringLiteral("echo hi"));
            QCOMPARE(got[3].value(QStringLiteral("detail")).toObject().value(QStringLiteral("exit_code")).toInt(-1), 0);
            QVERIFY(got[0].value(QStringLiteral("seq")).toInteger() < got[3].value(QStringLiteral("seq")).toInteger());
            const qint64 before = got[0].value(QStringLiteral("seq")).toInteger() - 1;
            r = call("GET", QStringLiteral("/api/v1/vms/desk/events?since=%1").arg(before));
            QCOMPARE(r.status, 200);
            const QJsonArray kept = r.json[QStringLiteral("events")].toArray();
            QVERIFY2(kept.size() >= 4, qPrintable(r.describe()));
            QCOMPARE(kept[2].toObject().value(QStringLiteral("action")).toString(), QStringLiteral("key"));
            stream.close();

            // No VM of that name: closed at once.
            QWebSocket nobody;
            req.setUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/nobody/events/ws").arg(m_port)));
            nobody.open(req);
            QTRY_COMPARE_WITH_TIMEOUT(nobody.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated, 10000);
        }

        // Bad input: clear 400s, nothing sent.
        QCOMPARE(input({act("click", {{QStringLiteral("x"), 5000}, {QStringLiteral("y"), 1}})}).status, 400);
        QCOMPARE(input({act("key", {{QStringLiteral("keys"), QStringLiteral("ctrl+nosuchkey")}})}).status, 400);
        QCOMPARE(input({act("teleport")}).status, 400);
        QCOMPARE(call("POST", QStringLiteral("/api/v1/vms/desk/input"), "{not json").status, 400);

        // A human takes control: agent input is refused (409 control_held),
        // screenshots keep working; releasing restores agent input.
        r = call("POST", QStringLiteral("/api/v1/vms/desk/display/control"), R"({"controller": "human"})");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json[QStringLiteral("human_in_control")].toBool(), true);
        r = input({act("type", {{QStringLiteral("text"), QStringLiteral("echo agent > /tmp/agent.txt\n")}})});
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("control_held"));
        QVERIFY(r.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QStringLiteral("human")));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/screenshot")).status, 200);
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/display")).json[QStringLiteral("controller")].toString(), QStringLiteral("human"));
        QTest::qWait(1000);
        QCOMPARE(sh(QStringLiteral("test -e /tmp/agent.txt && echo yes || echo no")), QStringLiteral("no\n"));
        r = call("POST", QStringLiteral("/api/v1/vms/desk/display/control"), R"({"controller": "agent"})");
        QCOMPARE(r.status, 200);
        r = input({act("type", {{QStringLiteral("text"), QStringLiteral("echo agent > /tmp/agent.txt\n")}})});
        QCOMPARE(r.status, 200);
        QVERIFY2(waitFor(QStringLiteral("cat /tmp/agent.txt 2>/dev/null"), QRegularExpression(QStringLiteral("^agent\\n$")), &seen), qPrintable(seen));

        // The RFB WebSocket: the server's version string with the token,
        // refused without it.
        {
            QWebSocket ws;
            QByteArray got;
            QObject::connect(&ws, &QWebSocket::binaryMessageReceived, &ws, [&](const QByteArray &b) { got += b; });
            QNetworkRequest req(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/desk/vnc").arg(m_port)));
            req.setRawHeader("Authorization", "Bearer " + m_token);
            ws.open(req);
            QTRY_VERIFY_WITH_TIMEOUT(got.size() >= 12, 30000);
            QVERIFY2(got.startsWith("RFB 003.00"), got.constData());
            ws.close();

            QWebSocket anon;
            bool opened = false;
            QObject::connect(&anon, &QWebSocket::connected, &anon, [&]() { opened = true; });
            anon.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/desk/vnc").arg(m_port)));
            QTest::qWait(1500);
            QVERIFY(!opened);
            QCOMPARE(call("GET", QStringLiteral("/vnc/desk"), {}, 10000, false).status, 401);
        }

        // The VM's own disk outlives the service: written, the service
        // stopped and started again, the VM started, the file is there.
        QCOMPARE(sh(QStringLiteral("echo kept > /root/persist.txt && sync && cat /root/persist.txt")), QStringLiteral("kept\n"));
        stopService();
        startService(driver);
        QVERIFY(!QTest::currentTestFailed());
        r = call("POST", QStringLiteral("/api/v1/vms/desk/start"), {}, kCreateTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(sh(QStringLiteral("cat /root/persist.txt")), QStringLiteral("kept\n"));
        const QString diskDir = m_manager->diskDir(QStringLiteral("desk"));
        QVERIFY(QFileInfo::exists(diskDir));

        r = call("DELETE", QStringLiteral("/api/v1/vms/desk"));
        QCOMPARE(r.status, 200);
        QVERIFY2(!QFileInfo::exists(diskDir), qPrintable(diskDir)); // its writable layer went with it
        // The display went with its VM.
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/screenshot")).status, 404);
    }
};

QTEST_GUILESS_MAIN(TestComputerUse)
#include "tst_computeruse.moc"
