// The computer-use template on a real guest, through the REST service in
// the test process (QEMU), as an agent drives it: created by its alias
// `computer_use` (no NIC), a screenshot before the desktop is ready answers
// 503 display_not_ready with Retry-After: 1 and `display` says ready: false;
// with ?wait_s the screenshot waits; the ready screen shows Chromium (its
// window visible and active per xdotool, JWM the window manager) and is not
// a uniform frame. Then the agent opens a page written into the guest
// through the browser's address bar, types into its field and clicks its
// button with the input API: each changes the page's title, read from inside
// the guest. Create -> agent-ready and -> display-ready are printed.

#include "../apicall.h"
#include "e2eservice.h"
#include "e2efixture.h"
#include "screenpixels.h"

#include <QElapsedTimer>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QTemporaryDir>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = 40 * 60 * 1000; // the first run builds the root disk (debootstrap)
constexpr int kReadyTimeoutMs = 300000; // agent -> browser focused, under TCG on a busy host
constexpr int kReadyWaitS = 60; // ?wait_s per screenshot (the service's bound)
constexpr int kObserveTimeoutMs = 60000; // input -> its effect in the guest (a page load under TCG)
constexpr int kLookMs = 2000; // between two inputs, as an agent taking a screenshot
constexpr int kClickEffectMs = 20000; // a click -> its effect, before the agent clicks again
constexpr int kClickAttempts = 3;
constexpr int kExecTimeoutS = 60;
constexpr int kExecGraceMs = 30000;
constexpr int kMinDrawnPixels = 5000; // a browser window and a taskbar, not a blank frame
// The page: a text field across the top third of the viewport, a button
// over the rest; each sets the title, which the guest reads with xdotool:
// focusing the field, typing into it, clicking the button. "Loaded" is
// said after the first frames are painted: Chromium drops pointer input that
// arrives before a page's first paint, and under TCG on a busy host the
// title is set seconds before it.
const char *const kPage = R"html(<!doctype html>
<html><head><title>mvs-page-opening</title><style>
body { margin: 0 }
#field { position: fixed; left: 0; top: 0; width: 100%; height: 30vh; font-size: 40px }
#button { position: fixed; left: 0; top: 30vh; width: 100%; height: 70vh; font-size: 40px }
</style></head><body>
<input id="field" onfocus="document.title = 'focused-field'" oninput="document.title = 'typed-' + this.value">
<button id="button" onclick="document.title = 'clicked-' + document.getElementById('field').value">Click me</button>
<script>
addEventListener('load', () => requestAnimationFrame(() => requestAnimationFrame(() => { document.title = 'mvs-page-loaded' })))
</script>
</body></html>
)html";

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestBrowserDesktop : public QObject {
    Q_OBJECT

    QTemporaryDir m_home; // tst_browserdesktop-XXXXXX: the reaper's prefix
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    QNetworkAccessManager m_nam;
    const QString m_vm = QStringLiteral("browser");
    int m_width = 0;
    int m_height = 0;

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, path, body, timeoutMs);
    }
    QString vmPath(const QString &rest) const { return QStringLiteral("/api/v1/vms/%1/%2").arg(m_vm, rest); }

    // stdout of a shell command in the guest (trimmed); "<why>" when it failed.
    QString sh(const QString &command)
    {
        const auto r = call("POST", vmPath(QStringLiteral("exec")), json({{QStringLiteral("cmd"), command}, {QStringLiteral("timeout_s"), kExecTimeoutS}}),
                            kExecTimeoutS * 1000 + kExecGraceMs);
        if (r.status != 200)
            return QStringLiteral("<%1>").arg(r.describe());
        const QString out = r.json[QStringLiteral("stdout")].toString().trimmed();
        return r.json[QStringLiteral("exit_code")].toInt(-1) == 0
            ? out
            : QStringLiteral("<exit %1: %2 %3>").arg(r.json[QStringLiteral("exit_code")].toInt(-1)).arg(out, r.json[QStringLiteral("stderr")].toString());
    }
    // The active window's title, polled until it matches; the last one seen.
    bool waitForTitle(const QString &wanted, QString *seen, int timeoutMs = kObserveTimeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        do {
            *seen = sh(QStringLiteral("DISPLAY=:0 xdotool getactivewindow getwindowname"));
            if (seen->startsWith(wanted))
                return true;
            QTest::qWait(1000);
        } while (!deadline.hasExpired());
        return false;
    }
    // A click at (x, y) until the title says its effect, as an agent that
    // looks at the screen and clicks again when nothing happened; the number
    // of clicks it took is printed. False after kClickAttempts.
    bool clickUntilTitle(int x, int y, const QString &wanted, QString *seen)
    {
        for (int attempt = 1; attempt <= kClickAttempts; ++attempt) {
            const auto r =
                input(QJsonArray{QJsonObject{{QStringLiteral("action"), QStringLiteral("click")}, {QStringLiteral("x"), x}, {QStringLiteral("y"), y}}});
            if (r.status != 200) {
                *seen = QStringLiteral("<click refused: %1>").arg(r.describe());
                return false;
            }
            if (waitForTitle(wanted, seen, kClickEffectMs)) {
                qInfo("click at %d,%d -> '%s' after %d click(s)", x, y, qPrintable(wanted), attempt);
                return true;
            }
        }
        return false;
    }
    // ctrl+l, a look, the address and return, until the title says the page
    // opened: an agent that sees the page did not open tries again. Under
    // TCG on a loaded host Chromium can take longer than the look to move
    // the focus to the address bar, and the keys then go to the page (seen
    // once in a fresh-clone CI run beside a build). False after kClickAttempts.
    bool openUntilTitle(const QString &url, const QString &wanted, QString *seen)
    {
        for (int attempt = 1; attempt <= kClickAttempts; ++attempt) {
            auto r = input(QJsonArray{QJsonObject{{QStringLiteral("action"), QStringLiteral("key")}, {QStringLiteral("keys"), QStringLiteral("ctrl+l")}}});
            QTest::qWait(kLookMs * attempt);
            if (r.status == 200)
                r = input(QJsonArray{QJsonObject{{QStringLiteral("action"), QStringLiteral("type")}, {QStringLiteral("text"), url}},
                                     QJsonObject{{QStringLiteral("action"), QStringLiteral("key")}, {QStringLiteral("keys"), QStringLiteral("return")}}});
            if (r.status != 200) {
                *seen = QStringLiteral("<input refused: %1>").arg(r.describe());
                return false;
            }
            if (waitForTitle(wanted, seen, attempt == kClickAttempts ? kObserveTimeoutMs : kClickEffectMs)) {
                qInfo("%s -> '%s' after %d attempt(s)", qPrintable(url), qPrintable(wanted), attempt);
                return true;
            }
        }
        return false;
    }
    // The guest's visible windows, for a failure's message.
    QString visibleWindows()
    {
        return sh(
            QStringLiteral("export DISPLAY=:0; for w in $(xdotool search --onlyvisible --name '.*'); do printf '%s ' \"$(xdotool getwindowname $w)\" ; done"));
    }
    TestApi::Reply input(const QJsonArray &actions) { return call("POST", vmPath(QStringLiteral("input")), json({{QStringLiteral("actions"), actions}})); }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
        const QString problem = m_service.start(*m_driver, Service::Displays::Served);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
    void cleanupTestCase() { m_service.stop(); }

    // Created, screenshot refused until ready, then the browser on screen.
    void readyShowsBrowser()
    {
        QElapsedTimer t;
        t.start();
        auto r = call("POST", QStringLiteral("/api/v1/vms"),
                      json({{QStringLiteral("name"), m_vm},
                            {QStringLiteral("template"), QStringLiteral("computer_use")},
                            {QStringLiteral("network"), QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")}}}}),
                      kCreateTimeoutMs);
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("template")].toString(), QStringLiteral("computer-use"));
        const qint64 agentMs = t.elapsed();

        // Right after create: the browser is far from up under TCG.
        r = call("GET", vmPath(QStringLiteral("screenshot")));
        QVERIFY2(r.status == 503, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("display_not_ready"));
        QCOMPARE(r.headers.value("retry-after"), QByteArray("1"));
        r = call("POST", vmPath(QStringLiteral("input")), R"({"action": "move", "x": 1, "y": 1})");
        QVERIFY2(r.status == 503 && r.errorCode() == QLatin1String("display_not_ready"), qPrintable(r.describe()));
        QCOMPARE(call("GET", vmPath(QStringLiteral("screenshot?wait_s=61"))).status, 400); // bounded
        r = call("GET", vmPath(QStringLiteral("display")), {}, kReadyTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("ready")].toBool(true), false);
        m_width = r.json[QStringLiteral("width")].toInt();
        m_height = r.json[QStringLiteral("height")].toInt();
        QCOMPARE(QSize(m_width, m_height), QSize(1280, 800)); // the template's geometry

        // Waiting, bounded per call, until the desktop is ready.
        QDeadlineTimer deadline(kReadyTimeoutMs);
        do
            r = call("GET", vmPath(QStringLiteral("screenshot?wait_s=%1").arg(kReadyWaitS)), {}, (kReadyWaitS + 30) * 1000);
        while (r.status == 503 && !deadline.hasExpired());
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        const qint64 readyMs = t.elapsed();
        QImage shot;
        QVERIFY(shot.loadFromData(r.body, "PNG"));
        QCOMPARE(shot.size(), QSize(m_width, m_height));
        QCOMPARE(call("GET", vmPath(QStringLiteral("display"))).json[QStringLiteral("ready")].toBool(), true);
        qInfo("computer-use: create -> agent-ready %lld ms, create -> display ready (browser focused) %lld ms; %d pixels off the background", agentMs, readyMs,
              nonBackgroundPixels(shot));
        QVERIFY2(nonBackgroundPixels(shot) >= kMinDrawnPixels, qPrintable(QString::number(nonBackgroundPixels(shot))));

        // The browser's window is there, visible and active; JWM manages it.
        const QString windows = sh(QStringLiteral("export DISPLAY=:0; xdotool search --onlyvisible --class chromium | head -n1; "
                                                  "xprop -id $(xdotool getactivewindow) WM_CLASS; wmctrl -m | head -n1"));
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9]+\\n.*[Cc]hromium.*\\nName: JWM$")).match(windows).hasMatch(), qPrintable(windows));
    }

    // The agent opens a page through the browser, types and clicks.
    void agentDrivesBrowser()
    {
        QVERIFY2(m_width > 0, "needs readyShowsBrowser");
        const auto put = call("PUT", vmPath(QStringLiteral("files?path=/root/page.html")), kPage);
        QVERIFY2(put.status == 200 || put.status == 201 || put.status == 204, qPrintable(put.describe()));

        // The address bar first, then the address: keys sent with the
        // ctrl+l in one request can reach the page before the bar has the
        // focus (Chromium moves it asynchronously; seen under TCG). An agent
        // looks at the screen between the two, and tries again.
        QString seen;
        QVERIFY2(openUntilTitle(QStringLiteral("file:///root/page.html"), QStringLiteral("mvs-page-loaded"), &seen),
                 qPrintable(QStringLiteral("the page did not open: title '%1'").arg(seen)));

        // Into the field (clicked first: the address bar keeps the focus after
        // a navigation), as an agent does: the click, its effect seen, then
        // the typing. In one request the keys can reach the browser before
        // its page has taken the focus from the address bar (seen under TCG).
        const int x = m_width / 2;
        if (!clickUntilTitle(x, m_height / 4, QStringLiteral("focused-field"), &seen))
            QFAIL(qPrintable(QStringLiteral("the click did not focus the field: title '%1'; windows: %2").arg(seen, visibleWindows())));
        auto r = input(QJsonArray{QJsonObject{{QStringLiteral("action"), QStringLiteral("type")}, {QStringLiteral("text"), QStringLiteral("agent42")}}});
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        if (!waitForTitle(QStringLiteral("typed-agent42"), &seen))
            QFAIL(qPrintable(QStringLiteral("typing had no effect: title '%1'; windows: %2").arg(seen, visibleWindows())));
        if (!clickUntilTitle(x, m_height * 3 / 4, QStringLiteral("clicked-agent42"), &seen))
            QFAIL(qPrintable(QStringLiteral("the click had no effect: title '%1'").arg(seen)));

        // The screenshot shows it: still a drawn frame of the screen's size.
        r = call("GET", vmPath(QStringLiteral("screenshot")));
        QImage shot;
        QVERIFY(r.status == 200 && shot.loadFromData(r.body, "PNG"));
        QVERIFY(nonBackgroundPixels(shot) >= kMinDrawnPixels);
        if (const QString png = qEnvironmentVariable("MVS_BROWSER_SCREENSHOT"); !png.isEmpty())
            QVERIFY(shot.save(png));
    }
};

QTEST_GUILESS_MAIN(TestBrowserDesktop)
#include "tst_browserdesktop.moc"
