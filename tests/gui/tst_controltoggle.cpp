// The display tab's "Take control" toggle on a real desktop guest (QEMU
// driver), with the API service in the same process as the window: checking
// it makes the API's POST .../input answer 409 control_held, unchecking it
// restores 200; a hand-over through the API shows in the window. The view
// shows the guest's screen (non-blank pixels in the display widget) and is
// view-only unless a human holds control. A PNG of the window is saved
// (MVS_GUI_SCREENSHOT, else the test's temporary directory).

#include "e2efixture.h"

#include "tests/apicall.h"
#include "screenpixels.h"

#include "app/activityfeed.h"
#include "app/gui/actionoverlay.h"
#include "app/gui/activitytab.h"
#include "app/gui/desktopgrid.h"
#include "app/gui/displaytab.h"
#include "app/gui/mainwindow.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "desktop/vmdisplay.h"
#include "server/activitylog.h"
#include "server/api.h"
#include "server/httpadapter.h"
#include "vncview/widget/vncviewwidget.h"

#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTreeWidget>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = 20 * 60 * 1000; // the first run may build the desktop image
constexpr int kDesktopTimeoutMs = 120000; // agent up -> the display connected and drawn
constexpr int kMinDrawnPixels = 100;

using Reply = TestApi::Reply;

} // namespace

class TestControlToggle : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    QByteArray m_token = QByteArrayLiteral("control-toggle-test-token");
    quint16 m_port = 0;
    QNetworkAccessManager m_nam;

    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_port, m_token, method, path, body, timeoutMs);
    }

    // Issue 19: the service's activity log wired to the window as the app
    // does (App::ActivityFeed): an API click is marked over the live view where
    // it happened, before anything else changes, and the Activity tab lists
    // the click, the typing and the keys in order. Pictures of both are
    // saved (MVS_GUI_PICTURES, else the test's temporary directory).
    void agentActionsShowInTheWindow(Gui::MainWindow &w, Server::ActivityLog &log)
    {
        App::ActivityFeed::connect(w, log);
        Gui::DisplayTab *tab = w.displayTab();
        const QPoint click(640, 400);
        const QPointF at = tab->view()->mapFromFrame(click);
        const auto pinkAt = [tab](const QPointF &p) {
            const QColor c = tab->view()->grab().toImage().pixelColor(p.toPoint());
            // The mark's pink (ActionOverlay::kMarkRgb), however faded over a light or dark screen.
            return c.red() > c.green() + 60 && c.blue() > c.green() + 30;
        };
        QVERIFY2(!pinkAt(at), "the desktop already has the mark's colour there");
        Reply r = call("POST", QStringLiteral("/api/v1/vms/desk/input"), R"({"action": "click", "x": 640, "y": 400})");
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QTRY_VERIFY_WITH_TIMEOUT(tab->overlay()->newestMarkPos(), 2000);
        QCOMPARE(tab->overlay()->newestMarkPos()->toPoint(), at.toPoint());
        QVERIFY2(pinkAt(at), "no mark drawn where the agent clicked");
        const QString pictures = qEnvironmentVariable("MVS_GUI_PICTURES", m_home.path());
        r = call("POST", QStringLiteral("/api/v1/vms/desk/input"), R"({"actions": [{"action": "type", "text": "abc"}, {"action": "key", "keys": "ctrl+c"}]})");
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QTRY_COMPARE(tab->overlay()->caption(), QStringLiteral("Key ctrl+c"));
        r = call("POST", QStringLiteral("/api/v1/vms/desk/input"), R"({"action": "drag", "x": 200, "y": 200, "to_x": 500, "to_y": 300})");
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QTRY_COMPARE(tab->overlay()->markCount(), 2);
        QVERIFY(w.grab().save(pictures + QStringLiteral("/activity-overlay.png")));
        // The marks fade: the view is the guest's again.
        QTRY_VERIFY_WITH_TIMEOUT(!tab->overlay()->isVisible(), Gui::ActionOverlay::kCaptionMs + 2000);

        w.details()->setCurrentWidget(w.activityTab());
        QTreeWidget *list = w.activityTab()->list();
        QStringList actions;
        for (int i = 0; i < list->topLevelItemCount(); ++i)
            actions << list->topLevelItem(i)->text(1);
        const QStringList wanted{QStringLiteral("Click at 640, 400"), QStringLiteral("Type “abc”"), QStringLiteral("Key ctrl+c"),
                                 QStringLiteral("Drag from 200, 200 to 500, 300")};
        QVERIFY2(actions.size() >= wanted.size() && actions.mid(actions.size() - wanted.size()) == wanted, qPrintable(actions.join(QStringLiteral(" | "))));
        QVERIFY(w.grab().save(pictures + QStringLiteral("/activity-log.png")));
        w.details()->setCurrentWidget(tab);
    }

    Reply agentInput() { return call("POST", QStringLiteral("/api/v1/vms/desk/input"), R"({"action": "move", "x": 10, "y": 10})"); }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    }

    void toggleBlocksAgentInput()
    {
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        Vm::VmManager manager(*d.driver, m_home.filePath(QStringLiteral("vms")));
        Desktop::DisplayHub displays(manager);
        Server::Api controller(manager, &displays);
        Server::HttpAdapter::Options o;
        o.token = m_token;
        Server::HttpAdapter adapter(controller.httpEndpoints(), o);
        auto port = adapter.listen(QHostAddress::LocalHost, 0);
        QVERIFY2(port, qPrintable(port ? QString() : port.error().toString()));
        m_port = *port;

        Gui::MainWindow w(manager, &displays);
        w.setService(QStringLiteral("http://127.0.0.1:%1").arg(m_port), m_token);
        w.resize(1100, 900);
        w.show();
        Gui::DisplayTab *tab = w.displayTab();
        QCOMPARE(w.details()->currentWidget(), tab);

        QVERIFY(manager.create({QStringLiteral("desk"), QStringLiteral("desktop"), {}, {}}));
        QVERIFY(w.selectVm(QStringLiteral("desk")));
        QVERIFY2(tab->messageLabel()->text().contains(QStringLiteral("Start it")), qPrintable(tab->messageLabel()->text()));
        QVERIFY(!tab->controlButton()->isEnabled());
        w.action(Gui::MainWindow::Action::Start)->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(manager.info(QStringLiteral("desk"))->state == Vm::VirtualMachine::State::Ready
                                     || manager.info(QStringLiteral("desk"))->state == Vm::VirtualMachine::State::Failed,
                                 kCreateTimeoutMs);
        QVERIFY2(manager.info(QStringLiteral("desk"))->state == Vm::VirtualMachine::State::Ready, qPrintable(w.lastError()));

        // The window shows the display (the tab connects by itself).
        QTRY_VERIFY_WITH_TIMEOUT(tab->display() && tab->display()->isConnected() && tab->view()->connection(), kDesktopTimeoutMs);
        QVERIFY(tab->controlButton()->isEnabled());
        QVERIFY(!tab->controlButton()->isChecked());
        QCOMPARE(tab->controlButton()->text(), QStringLiteral("Take control"));
        QVERIFY(tab->view()->isViewOnly());
        QVERIFY2(tab->controllerLabel()->text().contains(QStringLiteral("agent")), qPrintable(tab->controllerLabel()->text()));

        // The guest's screen is drawn in the widget.
        QImage shot;
        QDeadlineTimer drawn(kDesktopTimeoutMs);
        do {
            QTest::qWait(500);
            shot = tab->view()->grab().toImage();
        } while (nonBackgroundPixels(shot) < kMinDrawnPixels && !drawn.hasExpired());
        QVERIFY2(nonBackgroundPixels(shot) >= kMinDrawnPixels, "the display widget stayed blank");
        // Something for the screenshot (and the thumbnail) to show: the agent types.
        Reply typed =
            call("POST", QStringLiteral("/api/v1/vms/desk/input?wait_s=60"),
                 R"({"actions": [{"action": "type", "text": "echo the agent is typing in MicroVM Sandbox; uname -a"}, {"action": "key", "keys": "Return"}]})");
        QVERIFY2(typed.status == 200, qPrintable(typed.describe()));
        QTest::qWait(1500);
        const QString png = qEnvironmentVariable("MVS_GUI_SCREENSHOT", m_home.filePath(QStringLiteral("mainwindow.png")));
        QVERIFY(w.grab().save(png));
        qInfo("window screenshot: %s (%d pixels off the background in the display)", qPrintable(png), nonBackgroundPixels(shot));

        agentActionsShowInTheWindow(w, controller.activity());

        // The desktop grid shows it as a live thumbnail.
        Gui::DesktopGrid *grid = w.desktopGrid();
        w.overview()->setCurrentWidget(grid);
        QTRY_COMPARE_WITH_TIMEOUT(grid->vms(), QStringList{QStringLiteral("desk")}, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(grid->thumbnailsMade() > 0, 10000);
        const auto thumbPixels = [grid]() {
            const QImage thumb = grid->itemOf(QStringLiteral("desk"))->icon().pixmap(Gui::DesktopGrid::kThumbnailSize).toImage();
            return thumb.size() == Gui::DesktopGrid::kThumbnailSize ? nonBackgroundPixels(thumb) : -1;
        };
        QTRY_VERIFY2_WITH_TIMEOUT(thumbPixels() >= 10, qPrintable(QStringLiteral("the thumbnail is blank (%1)").arg(thumbPixels())), 20000);
        QTRY_COMPARE(grid->itemOf(QStringLiteral("desk"))->data(Gui::DesktopGrid::DriverRole).toString(), QStringLiteral("agent drives"));
        w.details()->setCurrentIndex(1);
        // Activating the thumbnail (Enter here; a double click does the same) opens it.
        grid->setFocus();
        grid->setCurrentItem(grid->itemOf(QStringLiteral("desk")));
        QTest::keyClick(grid, Qt::Key_Return);
        QTRY_COMPARE(w.overview()->currentWidget(), static_cast<QWidget *>(w.view()));
        QCOMPARE(w.details()->currentWidget(), static_cast<QWidget *>(tab));
        QCOMPARE(w.selectedVm(), QStringLiteral("desk"));

        // The agent drives by default.
        Reply r = agentInput();
        QVERIFY2(r.status == 200, qPrintable(r.describe()));

        // Take control in the window: agent input is refused.
        QSignalSpy toggled(&w, &Gui::MainWindow::desktopControlToggled); // what the app writes to the audit log
        tab->controlButton()->click();
        QVERIFY(tab->controlButton()->isChecked());
        QCOMPARE(tab->controlButton()->text(), QStringLiteral("Release"));
        QVERIFY(!tab->view()->isViewOnly());
        QVERIFY2(tab->controllerLabel()->text().contains(QStringLiteral("You are driving")), qPrintable(tab->controllerLabel()->text()));
        r = agentInput();
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("control_held"));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/display")).json[QStringLiteral("controller")].toString(), QStringLiteral("human"));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/desk/screenshot")).status, 200);

        // Release: agent input works again.
        tab->controlButton()->click();
        QVERIFY(!tab->controlButton()->isChecked());
        QCOMPARE(tab->controlButton()->text(), QStringLiteral("Take control"));
        QVERIFY(tab->view()->isViewOnly());
        r = agentInput();
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(toggled.size(), 2);
        QCOMPARE(toggled.at(0), (QVariantList{QStringLiteral("desk"), true}));
        QCOMPARE(toggled.at(1), (QVariantList{QStringLiteral("desk"), false}));

        // A hand-over through the API shows in the window.
        QCOMPARE(call("POST", QStringLiteral("/api/v1/vms/desk/display/control"), R"({"controller": "human"})").status, 200);
        QTRY_VERIFY(tab->controlButton()->isChecked());
        QVERIFY(!tab->view()->isViewOnly());
        QCOMPARE(call("POST", QStringLiteral("/api/v1/vms/desk/display/control"), R"({"controller": "agent"})").status, 200);
        QTRY_VERIFY(!tab->controlButton()->isChecked());
        QVERIFY(tab->view()->isViewOnly());

        // Stopping the VM takes the display away from the tab.
        w.action(Gui::MainWindow::Action::Stop)->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(manager.info(QStringLiteral("desk"))->state, Vm::VirtualMachine::State::Stopped, 60000);
        QVERIFY(!tab->display());
        QVERIFY(!tab->controlButton()->isEnabled());
        QVERIFY(tab->view()->isViewOnly());
    }
};

QTEST_MAIN(TestControlToggle)
#include "tst_controltoggle.moc"
