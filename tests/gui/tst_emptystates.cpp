// The window's empty states (issue 19), offscreen, with a VM manager on the
// QEMU driver but no guest booted: with no VMs the details pane is a welcome
// that explains the two ways in (Create, or the API with the copied token,
// its address shown) and its Create button opens the create dialog; with
// VMs but none selected it is a hint and no tab with buttons shows; a
// selected VM shows its tabs, and one without a desktop says so in the
// Display tab, whose Take control is disabled. Deleting the last VM brings
// the welcome back. Also: icons (the theme's or our SVGs), shortcuts and
// accessible names.

#include "e2efixture.h"

#include "app/gui/createdialog.h"
#include "app/gui/desktopgrid.h"
#include "app/gui/displaytab.h"
#include "app/gui/icons.h"
#include "app/gui/mainwindow.h"
#include "app/gui/vmlistmodel.h"
#include "app/gui/welcomepane.h"
#include "core/vm/vmmanager.h"

#include <QAction>
#include <QLabel>
#include <QTableView>
#include <QPushButton>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace E2e;
using Gui::WelcomePane;

class TestEmptyStates : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    }

    void emptyStatesAppearWhenTheyShould()
    {
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        Vm::VmManager manager(*d.driver, m_home.filePath(QStringLiteral("vms")));
        Gui::MainWindow w(manager, nullptr);
        w.show();
        WelcomePane *welcome = w.welcomePane();

        // No VMs: the welcome, with both ways in.
        QVERIFY(welcome->isVisible());
        QVERIFY(!w.details()->isVisible());
        QCOMPARE(welcome->mode(), WelcomePane::Mode::NoVms);
        QVERIFY(welcome->createButton()->isVisible());
        QVERIFY(!welcome->copyTokenButton()->isVisible()); // no API served yet
        QVERIFY2(welcome->textLabel()->text().contains(QStringLiteral("not served")), qPrintable(welcome->textLabel()->text()));
        w.setService(QStringLiteral("http://127.0.0.1:8123"), QByteArrayLiteral("empty-states-token"));
        QVERIFY(welcome->copyTokenButton()->isVisible());
        const QString text = welcome->textLabel()->text();
        QVERIFY2(text.contains(QStringLiteral("<b>Create</b>")) && text.contains(QStringLiteral("http://127.0.0.1:8123/api/v1/vms")), qPrintable(text));
        QVERIFY(!text.contains(QStringLiteral("empty-states-token"))); // the token is copied, never shown
        welcome->createButton()->click();
        QTRY_VERIFY(w.createDialog());
        w.createDialog()->reject();

        // VMs, none selected: a hint, nothing that acts on a VM.
        QVERIFY(manager.create({QStringLiteral("plain"), QStringLiteral("minimal"), {}, {}}));
        QTRY_COMPARE(welcome->mode(), WelcomePane::Mode::NoSelection);
        QVERIFY(welcome->isVisible());
        QVERIFY(!w.details()->isVisible());
        QVERIFY(!welcome->createButton()->isVisible());
        QVERIFY(!welcome->copyTokenButton()->isVisible());
        QVERIFY2(welcome->textLabel()->text().contains(QStringLiteral("Select a VM")), qPrintable(welcome->textLabel()->text()));
        QVERIFY(!w.action(Gui::MainWindow::Action::Start)->isEnabled());

        // Selected: its tabs. A VM without a desktop: the Display tab says so.
        QVERIFY(w.selectVm(QStringLiteral("plain")));
        QVERIFY(w.details()->isVisible());
        QVERIFY(!welcome->isVisible());
        w.details()->setCurrentWidget(w.displayTab());
        QVERIFY2(w.displayTab()->messageLabel()->text().contains(QStringLiteral("has no display")), qPrintable(w.displayTab()->messageLabel()->text()));
        QVERIFY(!w.displayTab()->controlButton()->isEnabled());

        // The last VM deleted: the welcome again.
        (void)manager.remove(QStringLiteral("plain"));
        QTRY_COMPARE(welcome->mode(), WelcomePane::Mode::NoVms);
        QVERIFY(welcome->isVisible());
        QVERIFY(!w.details()->isVisible());
    }

    // Icons and names at a glance: every VM action has an icon (the theme's,
    // or ours drawn from SVG) and a shortcut; the window and its main parts
    // have accessible names; states carry a badge colour in the list.
    void actionsHaveIconsShortcutsAndNames()
    {
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        Vm::VmManager manager(*d.driver, m_home.filePath(QStringLiteral("vms2")));
        Gui::MainWindow w(manager, nullptr);
        using A = Gui::MainWindow::Action;
        for (A a : {A::Create, A::Start, A::Stop, A::Pause, A::Resume, A::Restart, A::Delete, A::Snapshot, A::Resize}) {
            QAction *action = w.action(a);
            QVERIFY2(!action->icon().pixmap(24, 24).isNull(), qPrintable(action->objectName()));
            QVERIFY2(!action->shortcut().isEmpty(), qPrintable(action->objectName()));
        }
        QVERIFY(!w.wallAction()->icon().pixmap(24, 24).isNull());
        QCOMPARE(w.wallAction()->shortcut(), QKeySequence(Qt::Key_F11));
        // Our fallback draws where no theme has the name.
        const QImage fallback = Gui::Icons::themed(QStringLiteral("no-such-icon-in-any-theme"), QStringLiteral("start")).pixmap(24, 24).toImage();
        QVERIFY2(!fallback.isNull(), "the SVG fallback did not draw (is libqt6svg6 installed?)");
        QVERIFY(fallback.pixelColor(12, 12).alpha() > 0); // the play triangle's middle
        QVERIFY(!Gui::Icons::application().pixmap(64, 64).isNull());
        QVERIFY(!w.view()->accessibleName().isEmpty());
        QVERIFY(!w.details()->accessibleName().isEmpty());
        QVERIFY(!w.desktopGrid()->accessibleName().isEmpty());
        QCOMPARE(Gui::VmListModel::stateColour(Vm::VirtualMachine::State::Ready), QColor(0x2e, 0xa0, 0x43));
        QVERIFY(Gui::VmListModel::stateColour(Vm::VirtualMachine::State::Failed) != Gui::VmListModel::stateColour(Vm::VirtualMachine::State::Ready));
    }
};

QTEST_MAIN(TestEmptyStates)
#include "tst_emptystates.moc"
