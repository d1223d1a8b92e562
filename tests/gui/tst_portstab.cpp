// The Ports tab (offscreen, no guest: a VM that is not started holds its
// exposed ports, waiting for it to run): Expose lists the exposure with its
// host endpoint and state, a guest port exposed twice and an address not
// of this host are refused with the reason shown, Remove takes it away and
// the host port is free again; the list follows the manager (an exposure
// made elsewhere, the selected VM changing).

#include "app/gui/portstab.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"

#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

class TestPortsTab : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void exposeListRemove()
    {
        QTemporaryDir dir;
        Vmm::DriverOptions o;
        o.kind = Vmm::DriverKind::Qemu;
        o.accel = QStringLiteral("tcg");
        auto driver = Vmm::createDriver(o);
        QVERIFY2(driver, qPrintable(driver ? QString() : driver.error().message));
        Vm::VmManager manager(**driver, dir.path());
        QVERIFY(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(manager.create({QStringLiteral("other"), QStringLiteral("minimal"), 1, 256}));

        Gui::PortsTab tab(manager);
        QVERIFY(!tab.exposeButton()->isEnabled()); // no VM
        tab.setVm(QStringLiteral("box"));
        QVERIFY(tab.exposeButton()->isEnabled());
        QVERIFY(!tab.removeButton()->isEnabled());

        tab.guestPortBox()->setValue(8000);
        QVERIFY(tab.expose());
        QCOMPARE(tab.list()->topLevelItemCount(), 1);
        QTreeWidgetItem *row = tab.list()->topLevelItem(0);
        QCOMPARE(row->text(Gui::PortsTab::GuestColumn), QStringLiteral("8000"));
        QVERIFY2(row->text(Gui::PortsTab::HostColumn).startsWith(QStringLiteral("127.0.0.1:")), qPrintable(row->text(Gui::PortsTab::HostColumn)));
        QCOMPARE(row->text(Gui::PortsTab::StateColumn), QStringLiteral("waiting for the VM to run"));
        const quint16 hostPort = manager.ports(QStringLiteral("box"))->at(0).boundPort;
        QVERIFY(hostPort != 0);

        QVERIFY(!tab.expose()); // the same guest port again
        QVERIFY2(tab.statusLabel()->text().contains(QStringLiteral("already exposed")), qPrintable(tab.statusLabel()->text()));
        tab.guestPortBox()->setValue(8001);
        tab.hostAddressEdit()->setText(QStringLiteral("203.0.113.7"));
        QVERIFY(!tab.expose());
        QVERIFY2(tab.statusLabel()->text().contains(QStringLiteral("not an address of this host")), qPrintable(tab.statusLabel()->text()));

        // One made elsewhere (the API) shows up; another VM has its own.
        Vm::PortExposure e;
        e.guestPort = 22;
        QVERIFY(manager.exposePort(QStringLiteral("box"), e));
        QCOMPARE(tab.list()->topLevelItemCount(), 2);
        tab.setVm(QStringLiteral("other"));
        QCOMPARE(tab.list()->topLevelItemCount(), 0);
        tab.setVm(QStringLiteral("box"));

        tab.list()->topLevelItem(1)->setSelected(true);
        QCOMPARE(tab.selectedPort(), 8000);
        QVERIFY(tab.removeButton()->isEnabled());
        QVERIFY(tab.removeSelected());
        QCOMPARE(tab.list()->topLevelItemCount(), 1);
        QCOMPARE(tab.list()->topLevelItem(0)->text(Gui::PortsTab::GuestColumn), QStringLiteral("22"));
        QTcpServer again;
        QVERIFY(again.listen(QHostAddress::LocalHost, hostPort)); // the host port is free
    }
};

QTEST_MAIN(TestPortsTab)
#include "tst_portstab.moc"
