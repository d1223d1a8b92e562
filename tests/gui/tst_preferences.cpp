// Gui::Preferences and its dialog: defaults, listen addresses checked as
// typed (OK disabled with the reason), saved and loaded back; the window's
// Settings > Preferences opens it and OK saves.

#include "app/gui/mainwindow.h"
#include "app/gui/preferences.h"
#include "app/gui/preferencesdialog.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"

#include <QAction>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>

class TestPreferences : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_home.isValid());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
    }

    void defaults()
    {
        QCOMPARE(Gui::Preferences::path(), m_home.filePath(QStringLiteral("config/gui.conf")));
        const Gui::Preferences p = Gui::Preferences::load();
        QCOMPARE(p.listen, QStringLiteral("127.0.0.1:8000"));
        QCOMPARE(p.dataDir, QString());
        QCOMPARE(p.driver, QStringLiteral("auto"));
        QCOMPARE(p.accel, QStringLiteral("auto"));
    }

    void listenChecked_data()
    {
        QTest::addColumn<QString>("listen");
        QTest::addColumn<bool>("valid");
        QTest::newRow("loopback") << QStringLiteral("127.0.0.1:8000") << true;
        QTest::newRow("all") << QStringLiteral("0.0.0.0:9000") << true;
        QTest::newRow("v6") << QStringLiteral("[::1]:8080") << true;
        QTest::newRow("localhost") << QStringLiteral("localhost:1") << true;
        QTest::newRow("port only") << QStringLiteral(":8000") << true;
        QTest::newRow("no port") << QStringLiteral("127.0.0.1") << false;
        QTest::newRow("big port") << QStringLiteral("127.0.0.1:70000") << false;
        QTest::newRow("name") << QStringLiteral("example.com:80") << false;
        QTest::newRow("junk") << QStringLiteral("nope") << false;
    }

    void listenChecked()
    {
        QFETCH(QString, listen);
        QFETCH(bool, valid);
        Gui::PreferencesDialog dialog{Gui::Preferences()};
        QPushButton *ok = dialog.buttons()->button(QDialogButtonBox::Ok);
        QVERIFY(ok->isEnabled());
        dialog.listenEdit()->clear();
        QTest::keyClicks(dialog.listenEdit(), listen);
        QCOMPARE(ok->isEnabled(), valid);
        QCOMPARE(dialog.problemLabel()->text().isEmpty(), valid);
    }

    void saveAndLoad()
    {
        Gui::PreferencesDialog dialog{Gui::Preferences::load()};
        dialog.listenEdit()->setText(QStringLiteral("0.0.0.0:9100"));
        dialog.dataDirEdit()->setText(m_home.filePath(QStringLiteral("data")));
        dialog.driverCombo()->setCurrentIndex(dialog.driverCombo()->findData(QStringLiteral("qemu")));
        dialog.accelCombo()->setCurrentIndex(dialog.accelCombo()->findData(QStringLiteral("tcg")));
        const Gui::Preferences p = dialog.preferences();
        QVERIFY(p.save());
        QCOMPARE(Gui::Preferences::load(), p);
        QCOMPARE(Gui::Preferences::load().accel, QStringLiteral("tcg"));
        // The dialog starts from what was saved.
        Gui::PreferencesDialog again{Gui::Preferences::load()};
        QCOMPARE(again.preferences(), p);
        QVERIFY(QFile::remove(Gui::Preferences::path()));
    }

    void fromTheWindow()
    {
        Vmm::DriverOptions o;
        o.kind = Vmm::DriverKind::Qemu;
        o.accel = QStringLiteral("tcg");
        auto driver = Vmm::createDriver(o);
        QVERIFY2(driver, qPrintable(driver ? QString() : driver.error().message));
        QTemporaryDir vms;
        Vm::VmManager manager(**driver, vms.path());
        Gui::MainWindow w(manager, nullptr);
        w.preferencesAction()->trigger();
        auto *dialog = qobject_cast<Gui::PreferencesDialog *>(w.preferencesDialog());
        QVERIFY(dialog);
        dialog->listenEdit()->setText(QStringLiteral("127.0.0.1:9200"));
        dialog->buttons()->button(QDialogButtonBox::Ok)->click();
        QCOMPARE(Gui::Preferences::load().listen, QStringLiteral("127.0.0.1:9200"));
    }
};

QTEST_MAIN(TestPreferences)
#include "tst_preferences.moc"
