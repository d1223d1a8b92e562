// The desktops wall (issue 19) on three real desktop guests (QEMU driver),
// with the API service in the same process as the window and the service's
// activity log wired to it as the app does: the wall fills the window and
// shows three labelled tiles whose names match the VMs, each with its
// state and who drives; an API click on one lights that tile's "agent
// acted" sign within a second (and no other's) and it goes out afterwards;
// Take control from a tile's menu makes the API answer 409 control_held and
// Release gives it back; Enter on a tile leaves the wall for its display.
// A PNG of the wall is saved (MVS_GUI_PICTURES, else a temporary directory).

#include "e2efixture.h"

#include "tests/apicall.h"
#include "screenpixels.h"

#include "app/activityfeed.h"
#include "app/gui/desktopgrid.h"
#include "app/gui/displaytab.h"
#include "app/gui/mainwindow.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "server/activitylog.h"
#include "server/api.h"
#include "server/httpadapter.h"

#include <QDeadlineTimer>
#include <QHostAddress>
#include <QMenu>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTabBar>
#include <QTemporaryDir>
#include <QTest>

using namespace E2e;

namespace {

constexpr int kStartTimeoutMs = 20 * 60 * 1000; // the first run may build the desktop image
constexpr int kDesktopTimeoutMs = 180000; // three TCG desktops: agent up -> each drawn
constexpr int kSignMs = 1000; // the issue's bound: the sign lights within a second

using Reply = TestApi::Reply;

const QStringList kVms{QStringLiteral("wall-a"), QStringLiteral("wall-b"), QStringLiteral("wall-c")};

} // namespace

class TestDesktopWall : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    QByteArray m_token = QByteArrayLiteral("desktop-wall-test-token");
    quint16 m_port = 0;
    QNetworkAccessManager m_nam;

    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_port, m_token, method, path, body, timeoutMs);
    }

    Reply click(const QString &vm)
    {
        return call("POST", QStringLiteral("/api/v1/vms/%1/input?wait_s=60").arg(vm), R"({"action": "click", "x": 300, "y": 200})");
    }

    static bool lit(Gui::DesktopGrid *grid, const QString &vm) { return grid->itemOf(vm)->data(Gui::DesktopGrid::AgentActiveRole).toBool(); }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    }

    void wallOfThreeDesktops()
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
        App::ActivityFeed::connect(w, controller.activity());
        w.resize(1280, 900);
        w.show();

        // Before any desktop runs, the wall is empty.
        w.wallAction()->trigger();
        QVERIFY(w.wallMode());
        QVERIFY(!w.details()->isVisible());
        QVERIFY(!w.overview()->tabBar()->isVisible());
        Gui::DesktopGrid *grid = w.desktopGrid();
        QCOMPARE(w.overview()->currentWidget(), grid);
        QCOMPARE(grid->count(), 0);

        for (const QString &vm : kVms)
            QVERIFY(manager.create({vm, QStringLiteral("desktop"), {}, {}}));
        for (const QString &vm : kVms)
            (void)manager.start(vm);
        for (const QString &vm : kVms) {
            QTRY_VERIFY_WITH_TIMEOUT(
                manager.info(vm)->state == Vm::VirtualMachine::State::Ready || manager.info(vm)->state == Vm::VirtualMachine::State::Failed, kStartTimeoutMs);
            QVERIFY2(manager.info(vm)->state == Vm::VirtualMachine::State::Ready, qPrintable(vm + QStringLiteral(": ") + w.lastError()));
        }

        // Three labelled tiles, named as the VMs, that share the window.
        QTRY_COMPARE_WITH_TIMEOUT(grid->vms(), kVms, 5000);
        const QSize tile = grid->tileSize();
        QVERIFY2(tile.width() >= 400 && tile.width() * 2 <= grid->viewport()->width(),
                 qPrintable(QStringLiteral("tiles of %1x%2 in %3 px").arg(tile.width()).arg(tile.height()).arg(grid->viewport()->width())));
        for (const QString &vm : kVms) {
            QListWidgetItem *it = grid->itemOf(vm);
            QCOMPARE(it->text(), vm);
            QCOMPARE(it->data(Gui::DesktopGrid::StateRole).toInt(), int(Vm::VirtualMachine::State::Ready));
            QTRY_COMPARE_WITH_TIMEOUT(it->data(Gui::DesktopGrid::DriverRole).toString(), QStringLiteral("agent drives"), kDesktopTimeoutMs);
            QVERIFY2(it->data(Qt::AccessibleTextRole).toString().startsWith(vm + QStringLiteral(", Running")),
                     qPrintable(it->data(Qt::AccessibleTextRole).toString()));
        }
        // Each shows its screen, once its desktop is up (the xterm has the focus).
        for (const QString &vm : kVms) {
            Reply ready;
            QDeadlineTimer up(kDesktopTimeoutMs);
            do
                ready = call("GET", QStringLiteral("/api/v1/vms/%1/screenshot?wait_s=60").arg(vm), {}, 90000);
            while (ready.status == 503 && !up.hasExpired());
            QVERIFY2(ready.status == 200, qPrintable(vm + QStringLiteral(": ") + ready.describe()));
        }
        QTest::qWait(2 * Gui::DesktopGrid::kRefreshMs); // the thumbnails catch up
        for (const QString &vm : kVms) {
            const auto pixels = [grid, vm]() { return nonBackgroundPixels(grid->itemOf(vm)->icon().pixmap(Gui::DesktopGrid::kThumbnailSize).toImage()); };
            QTRY_VERIFY2_WITH_TIMEOUT(pixels() >= 10, qPrintable(vm + QStringLiteral(": blank tile")), kDesktopTimeoutMs);
        }

        // An API click lights the clicked tile's sign within a second, and
        // only that one's; it goes out afterwards.
        for (const QString &vm : kVms)
            QTRY_VERIFY_WITH_TIMEOUT(!lit(grid, vm), Gui::DesktopGrid::kActiveMs + 2000);
        Reply r = click(kVms.at(1));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QTRY_VERIFY_WITH_TIMEOUT(lit(grid, kVms.at(1)), kSignMs);
        QVERIFY(!lit(grid, kVms.at(0)));
        QVERIFY(!lit(grid, kVms.at(2)));
        QTest::qWait(300);
        const QString pictures = qEnvironmentVariable("MVS_GUI_PICTURES", m_home.path());
        QVERIFY(w.grab().save(pictures + QStringLiteral("/desktops-wall.png")));
        QTRY_VERIFY_WITH_TIMEOUT(!lit(grid, kVms.at(1)), Gui::DesktopGrid::kActiveMs + 2000);

        // Take control from a tile: the agent is refused; Release: it is not.
        QSignalSpy toggled(&w, &Gui::MainWindow::desktopControlToggled);
        std::unique_ptr<QMenu> menu(grid->menuFor(kVms.at(2)));
        QAction *take = menu->actions().value(1);
        QVERIFY(take && take->isEnabled());
        QCOMPARE(take->text(), QStringLiteral("&Take control"));
        take->trigger();
        r = click(kVms.at(2));
        QCOMPARE(r.status, 409);
        QCOMPARE(r.errorCode(), QStringLiteral("control_held"));
        QCOMPARE(grid->itemOf(kVms.at(2))->data(Gui::DesktopGrid::DriverRole).toString(), QStringLiteral("you drive"));
        QVERIFY(click(kVms.at(0)).status == 200); // the others are the agent's still
        menu.reset(grid->menuFor(kVms.at(2)));
        QCOMPARE(menu->actions().value(1)->text(), QStringLiteral("&Release control"));
        menu->actions().value(1)->trigger();
        r = click(kVms.at(2));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(toggled.size(), 2);
        QCOMPARE(toggled.at(0), (QVariantList{kVms.at(2), true}));

        // Enter on a tile leaves the wall for that VM's display.
        grid->setFocus();
        grid->setCurrentItem(grid->itemOf(kVms.at(0)));
        QTest::keyClick(grid, Qt::Key_Return);
        QTRY_VERIFY(!w.wallMode());
        QVERIFY(w.details()->isVisible());
        QCOMPARE(w.selectedVm(), kVms.at(0));
        QCOMPARE(w.details()->currentWidget(), static_cast<QWidget *>(w.displayTab()));

        for (const QString &vm : kVms)
            (void)manager.stop(vm);
        for (const QString &vm : kVms)
            QTRY_COMPARE_WITH_TIMEOUT(manager.info(vm)->state, Vm::VirtualMachine::State::Stopped, 60000);
        QTRY_COMPARE(grid->count(), 0);
    }
};

QTEST_MAIN(TestDesktopWall)
#include "tst_desktopwall.moc"
