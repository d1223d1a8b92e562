// The main window's snapshot action and Snapshots tab (offscreen) with a real
// minimal guest (QEMU): "Take snapshot" is enabled only while the VM runs or
// is paused; taking one lists it (current, size, parent); Restore asks first
// and brings the guest's old file back; Fork… starts two VMs that appear in
// the VM list; Delete… asks first and removes it from the list.

#include "e2efixture.h"

#include "app/gui/mainwindow.h"
#include "app/gui/snapshotstab.h"
#include "app/gui/vmlistmodel.h"
#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"

#include <QAction>
#include <QApplication>
#include <QDialog>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTreeWidget>

using namespace E2e;
using Gui::MainWindow;

namespace {

constexpr int kStartTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr int kOpTimeoutMs = 240000;

QString sh(Vm::VmManager &manager, const QString &vm, const QString &command)
{
    auto agent = manager.agent(vm);
    if (!agent)
        return agent.error().toString();
    Agent::ExecRequest req;
    req.shell = command;
    auto r = await((*agent)->run(req), 60000);
    return r ? QString::fromUtf8(r->stdoutData).trimmed() : r.error().toString();
}

// Click the confirmation's accepting button.
bool accept(QMessageBox *box)
{
    if (!box)
        return false;
    for (QAbstractButton *b : box->buttons())
        if (box->buttonRole(b) == QMessageBox::AcceptRole) {
            b->click();
            return true;
        }
    return false;
}

} // namespace

class TestSnapshotsTab : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
    }

    void snapshotRestoreForkDelete()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("vms")));
        MainWindow window(manager, nullptr);
        window.show();
        const QString vm = QStringLiteral("snappy");
        QVERIFY(manager.create({vm, QStringLiteral("minimal"), {}, {}}));
        QVERIFY(window.selectVm(vm));
        Gui::SnapshotsTab *tab = window.snapshotsTab();
        QAction *snapshot = window.action(MainWindow::Action::Snapshot);
        QVERIFY(!snapshot->isEnabled()); // not running
        QVERIFY(!tab->takeButton()->isEnabled());

        E2E_VERIFY_OK(await(manager.start(vm), kStartTimeoutMs));
        QTRY_VERIFY(snapshot->isEnabled());
        QVERIFY(tab->takeButton()->isEnabled());
        QCOMPARE(sh(manager, vm, QStringLiteral("echo one > /root/v; cat /root/v")), QStringLiteral("one"));

        // The toolbar action: the tab comes up and shows the operation.
        QSignalSpy finished(tab, &Gui::SnapshotsTab::operationFinished);
        snapshot->trigger();
        QCOMPARE(window.details()->currentWidget(), static_cast<QWidget *>(tab));
        QVERIFY(tab->isBusy());
        QVERIFY(tab->busyBar()->isVisible());
        QVERIFY(!tab->takeButton()->isEnabled());
        QVERIFY(tab->cancelButton()->isVisible());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, kOpTimeoutMs);
        QVERIFY(!tab->cancelButton()->isVisible());
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(tab->statusLabel()->text()));
        QVERIFY(!tab->busyBar()->isVisible());
        QCOMPARE(tab->list()->topLevelItemCount(), 1);
        const QString first = tab->list()->topLevelItem(0)->data(Gui::SnapshotsTab::NameColumn, Qt::UserRole).toString();
        QVERIFY(first.startsWith(QLatin1String("snap-")));
        QVERIFY(tab->list()->topLevelItem(0)->text(Gui::SnapshotsTab::NameColumn).contains(first));
        QVERIFY(!tab->list()->topLevelItem(0)->text(Gui::SnapshotsTab::SizeColumn).isEmpty());

        // Cancel: nothing is kept, the VM runs on.
        tab->takeButton()->click();
        QVERIFY(tab->cancelButton()->isVisible());
        tab->cancelButton()->click();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, kOpTimeoutMs);
        QVERIFY(!finished.at(1).at(0).toBool());
        QVERIFY2(tab->statusLabel()->text().contains(QLatin1String("cancelled")), qPrintable(tab->statusLabel()->text()));
        QCOMPARE(tab->list()->topLevelItemCount(), 1);
        QCOMPARE(manager.info(vm)->state, Vm::VirtualMachine::State::Ready);
        finished.clear();
        finished.append(QList<QVariant>{true}); // one operation so far, for the counts below

        // A named one from the tab.
        QCOMPARE(sh(manager, vm, QStringLiteral("echo two > /root/v; cat /root/v")), QStringLiteral("two"));
        tab->nameEdit()->setText(QStringLiteral("second"));
        tab->takeButton()->click();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, kOpTimeoutMs);
        QVERIFY2(finished.at(1).at(0).toBool(), qPrintable(tab->statusLabel()->text()));
        QCOMPARE(tab->list()->topLevelItemCount(), 2);
        QVERIFY(tab->selectSnapshot(QStringLiteral("second")));
        QCOMPARE(tab->list()->currentItem()->text(Gui::SnapshotsTab::ParentColumn), first);

        // Restore asks first; Cancel does nothing.
        QCOMPARE(sh(manager, vm, QStringLiteral("echo three > /root/v; cat /root/v")), QStringLiteral("three"));
        QVERIFY(tab->selectSnapshot(first));
        tab->restoreButton()->click();
        QTRY_VERIFY(tab->confirmation());
        tab->confirmation()->button(QMessageBox::Cancel)->click();
        QTRY_VERIFY(!tab->confirmation());
        QCOMPARE(finished.size(), 2);
        tab->restoreButton()->click();
        QTRY_VERIFY(tab->confirmation());
        QVERIFY(accept(tab->confirmation()));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 3, kOpTimeoutMs);
        QVERIFY2(finished.at(2).at(0).toBool(), qPrintable(tab->statusLabel()->text()));
        QCOMPARE(sh(manager, vm, QStringLiteral("cat /root/v")), QStringLiteral("one"));
        QVERIFY(tab->selectSnapshot(first));
        QVERIFY(tab->list()->currentItem()->font(Gui::SnapshotsTab::NameColumn).bold()); // current

        // Fork two; they show up in the VM list.
        QVERIFY(tab->selectSnapshot(QStringLiteral("second")));
        tab->forkButton()->click();
        QTRY_VERIFY(tab->forkDialog());
        tab->forkDialog()->findChild<QSpinBox *>(QStringLiteral("forkCount"))->setValue(2);
        tab->forkDialog()->findChild<QLineEdit *>(QStringLiteral("forkPrefix"))->setText(QStringLiteral("copy"));
        tab->forkDialog()->findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok)->click();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 4, 2 * kOpTimeoutMs);
        QVERIFY2(finished.at(3).at(0).toBool(), qPrintable(tab->statusLabel()->text()));
        QTRY_COMPARE(window.model()->rowCount(), 3);
        QCOMPARE(window.model()->stateOf(QStringLiteral("copy-1")), Vm::VirtualMachine::State::Ready);
        QCOMPARE(sh(manager, QStringLiteral("copy-2"), QStringLiteral("cat /root/v; hostname")), QStringLiteral("two\ncopy-2"));

        // Delete asks first.
        QVERIFY(tab->selectSnapshot(first));
        tab->deleteButton()->click();
        QTRY_VERIFY(tab->confirmation());
        QVERIFY(accept(tab->confirmation()));
        QTRY_COMPARE(finished.size(), 5);
        QVERIFY(finished.at(4).at(0).toBool());
        QCOMPARE(tab->list()->topLevelItemCount(), 1);
        QVERIFY(tab->selectSnapshot(QStringLiteral("second")));
        QCOMPARE(tab->list()->currentItem()->text(Gui::SnapshotsTab::ParentColumn), QStringLiteral("—"));

        // Stopped: no snapshot, but restore starts it from one.
        E2E_VERIFY_OK(await(manager.stop(vm), 60000));
        QTRY_VERIFY(!snapshot->isEnabled());
        QVERIFY(!tab->takeButton()->isEnabled());
        QVERIFY(tab->restoreButton()->isEnabled());
    }
};

QTEST_MAIN(TestSnapshotsTab)
#include "tst_snapshotstab.moc"
