// The GUI's German translation: complete (every message of the .ts file
// translated, none unfinished), embedded in the GUI library, and used by the
// window once installed (actions, columns, states, plurals).

#include "app/gui/mainwindow.h"
#include "app/gui/translations.h"
#include "app/gui/vmlistmodel.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"

#include <QAction>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

class TestTranslations : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void germanIsComplete()
    {
        QFile ts(QStringLiteral(MVS_GUI_TS_DIR "/mvs_gui_de.ts"));
        QVERIFY(ts.open(QIODevice::ReadOnly));
        QXmlStreamReader xml(&ts);
        int messages = 0;
        QStringList unfinished;
        QString source;
        while (!xml.atEnd()) {
            xml.readNext();
            if (!xml.isStartElement())
                continue;
            if (xml.name() == QLatin1String("source")) {
                source = xml.readElementText();
            } else if (xml.name() == QLatin1String("translation")) {
                ++messages;
                const QString type = xml.attributes().value(QLatin1String("type")).toString();
                const QString text = xml.readElementText(QXmlStreamReader::IncludeChildElements);
                if (!type.isEmpty() || text.trimmed().isEmpty())
                    unfinished << source;
            }
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY(messages > 100);
        QVERIFY2(unfinished.isEmpty(), qPrintable(unfinished.join(QLatin1String(" | "))));
        QVERIFY(QFile::exists(QStringLiteral(":/i18n/mvs_gui_de.qm")));
    }

    void windowSpeaksGerman()
    {
        QVERIFY(!Gui::installTranslations(QLocale(QLocale::English, QLocale::UnitedStates))); // the source language
        QVERIFY(Gui::installTranslations(QLocale(QLocale::German, QLocale::Germany)));
        QTemporaryDir dir;
        Vmm::DriverOptions o;
        o.kind = Vmm::DriverKind::Qemu;
        o.accel = QStringLiteral("tcg");
        auto driver = Vmm::createDriver(o);
        QVERIFY2(driver, qPrintable(driver ? QString() : driver.error().message));
        Vm::VmManager manager(**driver, dir.path());
        Gui::MainWindow w(manager, nullptr);
        QCOMPARE(w.action(Gui::MainWindow::Action::Start)->text(), QStringLiteral("&Starten"));
        QCOMPARE(w.action(Gui::MainWindow::Action::Delete)->text(), QStringLiteral("&Löschen …"));
        QCOMPARE(w.model()->headerData(Gui::VmListModel::StateColumn, Qt::Horizontal).toString(), QStringLiteral("Zustand"));
        QCOMPARE(Gui::VmListModel::stateText(Vm::VirtualMachine::State::Ready), QStringLiteral("Läuft"));
        QCOMPARE(QCoreApplication::translate("Gui::MainWindow",
                                             "%n VM(s) are running. Stop them, or leave them running: the next start of MicroVM Sandbox takes them over again.",
                                             nullptr, 2),
                 QStringLiteral("2 VMs laufen. Sie können sie stoppen oder weiterlaufen lassen: Beim nächsten Start übernimmt MicroVM Sandbox sie wieder."));
        QCOMPARE(QCoreApplication::translate("Gui::MainWindow", "Leave running and quit"), QStringLiteral("Weiterlaufen lassen und beenden"));
    }
};

QTEST_MAIN(TestTranslations)
#include "tst_translations.moc"
