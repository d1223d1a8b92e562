// Gui::MainWindow (offscreen) with a real minimal guest (QEMU driver): the
// actions enable and disable with the selected VM's state as it changes
// (start, pause, resume, stop through the toolbar actions), the Run tab
// streams a command's output and shows its exit code, the Files tab moves a
// file both ways, the Console tab follows the serial log, the Display tab
// says a minimal VM has no desktop, closing with a VM running asks first
// (stop them, leave them running, or cancel), a
// VM whose VMM dies is reported with its console one click away, and Delete
// asks first. The create dialog
// rejects invalid names (saying why) and accepts valid ones.

#include "e2efixture.h"

#include "app/gui/consoletab.h"
#include "app/gui/createdialog.h"
#include "app/gui/desktopgrid.h"
#include "app/gui/displaytab.h"
#include "app/gui/filestab.h"
#include "app/gui/mainwindow.h"
#include "app/gui/resizedialog.h"
#include "app/gui/runtab.h"
#include "app/gui/vmlistmodel.h"
#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QStatusBar>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>

#include <csignal>

using namespace E2e;
using Gui::MainWindow;
using State = Vm::VirtualMachine::State;

namespace {

constexpr int kStartTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image

// Start, Stop, Pause, Resume, Restart, Delete: "1" enabled, "0" not.
QString enabledActions(const MainWindow &w)
{
    QString s;
    for (auto a : {MainWindow::Action::Start, MainWindow::Action::Stop, MainWindow::Action::Pause, MainWindow::Action::Resume, MainWindow::Action::Restart,
                   MainWindow::Action::Delete})
        s += w.action(a)->isEnabled() ? QLatin1Char('1') : QLatin1Char('0');
    return s;
}

} // namespace

class TestMainWindow : public QObject {
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

    void createDialogValidatesNames_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("why");
        QTest::newRow("empty") << QString() << false << QString();
        QTest::newRow("upper case") << QStringLiteral("Box") << false << QStringLiteral("lowercase");
        QTest::newRow("underscore") << QStringLiteral("a_b") << false << QStringLiteral("lowercase");
        QTest::newRow("space") << QStringLiteral("a b") << false << QStringLiteral("lowercase");
        QTest::newRow("leading dash") << QStringLiteral("-box") << false << QStringLiteral("start with a letter or a digit");
        QTest::newRow("taken") << QStringLiteral("taken") << false << QStringLiteral("already exists");
        QTest::newRow("simple") << QStringLiteral("box") << true << QString();
        QTest::newRow("digits and dashes") << QStringLiteral("agent-42-x") << true << QString();
        QTest::newRow("one char") << QStringLiteral("a") << true << QString();
        QTest::newRow("63 chars") << QString(63, QLatin1Char('a')) << true << QString();
    }

    void createDialogValidatesNames()
    {
        QFETCH(QString, name);
        QFETCH(bool, valid);
        QFETCH(QString, why);
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("dialog")));
        if (!manager.contains(QStringLiteral("taken")))
            QVERIFY(manager.create({QStringLiteral("taken"), QStringLiteral("minimal"), {}, {}}));
        Gui::CreateDialog dialog(manager);
        QVERIFY(dialog.templateCombo()->count() >= 1);
        QCOMPARE(dialog.templateCombo()->currentText(), QStringLiteral("minimal"));
        QPushButton *ok = dialog.buttons()->button(QDialogButtonBox::Ok);
        QVERIFY(!ok->isEnabled()); // nothing typed yet
        // As typed, one key at a time.
        QTest::keyClicks(dialog.nameEdit(), name);
        QCOMPARE(dialog.nameEdit()->text(), name);
        QCOMPARE(ok->isEnabled(), valid);
        QCOMPARE(dialog.isAcceptable(), valid);
        if (!why.isEmpty()) {
            QVERIFY2(dialog.problemLabel()->text().contains(why), qPrintable(dialog.problemLabel()->text()));
            QVERIFY(!dialog.problemLabel()->isHidden());
        } else {
            QVERIFY(dialog.problemLabel()->text().isEmpty());
        }
        // The host bounds.
        QCOMPARE(dialog.vcpusSpin()->maximum(), qMin(Gui::CreateDialog::hostCpus(), int(Vm::VmManager::kMaxVcpus)));
        QVERIFY(Gui::CreateDialog::hostMemoryMiB() > 0);
        QCOMPARE(dialog.memorySpin()->maximum(), qMin(Gui::CreateDialog::hostMemoryMiB(), int(Vm::VmManager::kMaxMemoryMiB)));
        QCOMPARE(dialog.memorySpin()->minimum(), int(Vm::VmManager::kMinMemoryMiB));
        if (valid) {
            const auto o = dialog.options();
            QCOMPARE(o.name, name);
            QCOMPARE(o.templateName, QStringLiteral("minimal"));
        }
    }

    // What the host's quotas leave is shown; a VM over them cannot be made.
    void createDialogShowsQuota()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("quota")));
        {
            Gui::CreateDialog none(manager);
            QCOMPARE(none.quotaLabel()->text(), QStringLiteral("No quotas are set on this host."));
        }
        Vm::QuotaLimits limits;
        limits.maxVms = 2;
        limits.maxMemoryMiB = 1000;
        manager.setQuota(limits);
        QVERIFY(manager.create({QStringLiteral("one"), QStringLiteral("minimal"), {}, {}}));
        Gui::CreateDialog dialog(manager);
        QCOMPARE(dialog.quotaLabel()->text(), QStringLiteral("Left on this host: VMs: 1, memory: 1000 MiB."));
        QTest::keyClicks(dialog.nameEdit(), QStringLiteral("two"));
        QPushButton *ok = dialog.buttons()->button(QDialogButtonBox::Ok);
        QVERIFY(ok->isEnabled());
        dialog.memorySpin()->setValue(1024); // more than the host allows any VM
        QVERIFY(!ok->isEnabled());
        QVERIFY2(dialog.problemLabel()->text().contains(QStringLiteral("memory: 0 MiB in use + 1024 MiB asked > 1000 MiB allowed")),
                 qPrintable(dialog.problemLabel()->text()));
        dialog.memorySpin()->setValue(512);
        QVERIFY(ok->isEnabled());
        QVERIFY(dialog.problemLabel()->text().isEmpty());

        // The count: no room once two exist.
        QVERIFY(manager.create({QStringLiteral("two"), QStringLiteral("minimal"), {}, {}}));
        Gui::CreateDialog full(manager);
        QCOMPARE(full.quotaLabel()->text(), QStringLiteral("Left on this host: VMs: 0, memory: 1000 MiB."));
        QTest::keyClicks(full.nameEdit(), QStringLiteral("three"));
        QVERIFY(!full.buttons()->button(QDialogButtonBox::Ok)->isEnabled());
        QVERIFY2(full.problemLabel()->text().contains(QStringLiteral("vms: 2 in use + 1 asked > 2 allowed")), qPrintable(full.problemLabel()->text()));
    }

    // The paused pool in the status bar: hidden without targets; with one,
    // how many of its VMs are ready (a real pooled guest), per template in
    // the tooltip; gone again when the targets are.
    void poolInTheStatusBar()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("pool")));
        manager.setWarmStart(true);
        MainWindow w(manager, nullptr);
        w.show();
        QVERIFY(!w.poolLabel()->isVisibleTo(&w));
        QVERIFY(manager.setPoolTargets({{QStringLiteral("minimal"), 1}}));
        QVERIFY(w.poolLabel()->isVisibleTo(&w));
        QVERIFY2(w.poolLabel()->toolTip().contains(QLatin1String("minimal: 0 of 1 ready"))
                     || w.poolLabel()->toolTip().contains(QLatin1String("minimal: 1 of 1")),
                 qPrintable(w.poolLabel()->toolTip()));
        QTRY_COMPARE_WITH_TIMEOUT(w.poolLabel()->text(), QStringLiteral("Pool: 1/1 ready"), kStartTimeoutMs + 300000);
        QVERIFY2(w.poolLabel()->toolTip().contains(QLatin1String("minimal: 1 of 1 ready, 0 being restored")), qPrintable(w.poolLabel()->toolTip()));
        QVERIFY(manager.setPoolTargets({}));
        QVERIFY(!w.poolLabel()->isVisibleTo(&w));
    }

    // The dialog from the window: a valid name, "Start now" off: created, not started.
    void createFromWindow()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("fromwindow")));
        MainWindow w(manager, nullptr);
        w.show();
        QVERIFY(w.action(MainWindow::Action::Create)->isEnabled());
        QCOMPARE(enabledActions(w), QStringLiteral("000000")); // nothing selected
        w.action(MainWindow::Action::Create)->trigger();
        QVERIFY(w.createDialog());
        Gui::CreateDialog *dialog = w.createDialog();
        QTest::keyClicks(dialog->nameEdit(), QStringLiteral("fresh"));
        dialog->vcpusSpin()->setValue(1);
        dialog->memorySpin()->setValue(192);
        dialog->startCheck()->setChecked(false);
        QVERIFY(dialog->buttons()->button(QDialogButtonBox::Ok)->isEnabled());
        dialog->buttons()->button(QDialogButtonBox::Ok)->click();
        QVERIFY(manager.contains(QStringLiteral("fresh")));
        QCOMPARE(manager.info(QStringLiteral("fresh"))->record.memoryMiB, 192);
        QCOMPARE(w.selectedVm(), QStringLiteral("fresh"));
        QCOMPARE(w.model()->stateOf(QStringLiteral("fresh")), State::Created);
        QCOMPARE(enabledActions(w), QStringLiteral("100001"));
    }

    // An image build shows a progress bar with Cancel in the status bar;
    // cancelling stops the build (nothing is published in the cache) and the
    // start ends without an error box.
    void imageBuildCanBeCancelled()
    {
        QTemporaryDir cache;
        const QByteArray oldCache = qgetenv("MVS_CACHE_DIR");
        qputenv("MVS_CACHE_DIR", cache.path().toUtf8());
        auto restore = qScopeGuard([&]() { qputenv("MVS_CACHE_DIR", oldCache); });
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("cancel")));
        MainWindow w(manager, nullptr);
        w.show();
        QVERIFY(manager.create({QStringLiteral("slow"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(w.selectVm(QStringLiteral("slow")));
        QSignalSpy done(&w, &MainWindow::operationFinished);
        w.action(MainWindow::Action::Start)->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(w.buildingVm(), QStringLiteral("slow"), 60000);
        QVERIFY(w.findChild<QProgressBar *>(QStringLiteral("buildProgress"))->isVisible());
        w.cancelBuild();
        QVERIFY(w.buildingVm().isEmpty());
        QVERIFY(done.wait(60000));
        QCOMPARE(done.last().at(1).toBool(), false);
        QVERIFY2(!w.errorBox(), "a cancelled build is not an error");
        QTRY_VERIFY_WITH_TIMEOUT(w.model()->stateOf(QStringLiteral("slow")) != State::Preparing, 30000);
        QVERIFY(!w.findChild<QProgressBar *>(QStringLiteral("buildProgress"))->isVisible());
        // Nothing half-built is published.
        const QStringList images = QDir(cache.filePath(QStringLiteral("images"))).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        for (const QString &image : images)
            QVERIFY2(!QFileInfo::exists(cache.filePath(QStringLiteral("images/%1/initramfs.cpio").arg(image))), qPrintable(image));
    }

    void actionsFollowARealGuest()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("real")));
        Desktop::DisplayHub displays(manager);
        MainWindow w(manager, &displays);
        w.setService(QStringLiteral("http://127.0.0.1:1234"), QByteArrayLiteral("secret"));
        w.show();
        QVERIFY(w.urlLabel()->text().contains(QStringLiteral("http://127.0.0.1:1234")));
        QVERIFY(w.copyTokenButton()->isEnabled());
        w.copyTokenButton()->click();
        QCOMPARE(QApplication::clipboard()->text(), QStringLiteral("secret"));

        QVERIFY(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(manager.create({QStringLiteral("other"), QStringLiteral("minimal"), 1, 256}));
        QVERIFY(w.selectVm(QStringLiteral("box")));
        QCOMPARE(w.selectedVm(), QStringLiteral("box"));
        QCOMPARE(enabledActions(w), QStringLiteral("100001")); // Created: start, delete
        QVERIFY(w.displayTab()->messageLabel()->text().contains(QStringLiteral("no desktop")));

        // Stopped: room for a second vCPU while it runs, from its next start.
        QSignalSpy done(&w, &MainWindow::operationFinished);
        QVERIFY(w.action(MainWindow::Action::Resize)->isEnabled());
        w.action(MainWindow::Action::Resize)->trigger();
        QVERIFY(w.resizeDialog());
        QVERIFY(w.resizeDialog()->maxVcpusBox()->isEnabled());
        QCOMPARE(w.resizeDialog()->maxVcpusBox()->minimum(), 1);
        w.resizeDialog()->maxVcpusBox()->setValue(2);
        w.resizeDialog()->accept(); // a stopped VM's record: done at once
        QTRY_COMPARE(done.count(), 1);
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(manager.info(QStringLiteral("box"))->record.maxVcpus, 2);

        // Start from the toolbar: disabled at once (booting), stop allowed.
        w.action(MainWindow::Action::Start)->trigger();
        QCOMPARE(enabledActions(w).left(1), QStringLiteral("0"));
        QVERIFY(w.action(MainWindow::Action::Stop)->isEnabled());
        QVERIFY(done.wait(kStartTimeoutMs));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(w.model()->stateOf(QStringLiteral("box")), State::Ready);
        QCOMPARE(enabledActions(w), QStringLiteral("011011")); // Running: stop, pause, restart, delete

        // Resize the running guest from its dialog: a vCPU added up to its
        // maximum (which waits for a stop), less memory; the guest sees both.
        QVERIFY(w.action(MainWindow::Action::Resize)->isEnabled());
        w.action(MainWindow::Action::Resize)->trigger();
        QVERIFY(w.resizeDialog());
        QVERIFY(w.resizeDialog()->vcpusBox()->isEnabled());
        QCOMPARE(w.resizeDialog()->vcpusBox()->maximum(), 2);
        QVERIFY(!w.resizeDialog()->maxVcpusBox()->isEnabled());
        QVERIFY2(w.resizeDialog()->noteLabel()->text().contains(QStringLiteral("up to its maximum of 2")), qPrintable(w.resizeDialog()->noteLabel()->text()));
        QCOMPARE(w.resizeDialog()->memoryBox()->maximum(), 256);
        w.resizeDialog()->vcpusBox()->setValue(2);
        w.resizeDialog()->memoryBox()->setValue(192);
        w.resizeDialog()->accept();
        QVERIFY(done.wait(60000));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(manager.info(QStringLiteral("box"))->memoryNowMiB, qint64(192));
        QCOMPARE(manager.info(QStringLiteral("box"))->record.vcpus, 2);
        auto health = await((*manager.agent(QStringLiteral("box")))->health(), 30000);
        QVERIFY(health);
        QCOMPARE(health->cpus, 2u);
        QVERIFY2(w.statusBar()->currentMessage().contains(QStringLiteral("2 vCPUs and 192 MiB")), qPrintable(w.statusBar()->currentMessage()));

        // A minimal VM has no desktop: no thumbnail in the grid.
        QVERIFY(w.desktopGrid()->vms().isEmpty());

        // The other VM's actions are its own (still Created).
        QVERIFY(w.selectVm(QStringLiteral("other")));
        QCOMPARE(enabledActions(w), QStringLiteral("100001"));
        QVERIFY(w.selectVm(QStringLiteral("box")));
        QCOMPARE(enabledActions(w), QStringLiteral("011011"));

        // The console shows the boot log and follows it.
        QTRY_VERIFY_WITH_TIMEOUT(!w.consoleTab()->view()->toPlainText().isEmpty(), 5000);
        QVERIFY2(w.consoleTab()->view()->toPlainText().contains(QStringLiteral("microvm-agent")), qPrintable(w.consoleTab()->view()->toPlainText().left(400)));

        // Run: streamed stdout and stderr, the exit code.
        Gui::RunTab *run = w.runTab();
        QSignalSpy ran(run, &Gui::RunTab::commandFinished);
        run->commandEdit()->setText(QStringLiteral("echo out-$((6*7)); echo err-line >&2; exit 3"));
        QVERIFY(run->runButton()->isEnabled());
        run->runButton()->click();
        QVERIFY(ran.wait(30000));
        QVERIFY2(run->output()->toPlainText().contains(QStringLiteral("out-42")), qPrintable(run->output()->toPlainText()));
        QVERIFY(run->output()->toPlainText().contains(QStringLiteral("err-line")));
        QVERIFY2(run->statusLabel()->text().contains(QStringLiteral("code 3")), qPrintable(run->statusLabel()->text()));

        // The console follows what the guest writes to it later.
        run->commandEdit()->setText(QStringLiteral("echo console-mark-$((6*7)) > /dev/console"));
        run->runButton()->click();
        QVERIFY(ran.wait(30000));
        QVERIFY2(run->statusLabel()->text().contains(QStringLiteral("code 0")), qPrintable(run->statusLabel()->text()));
        QTRY_VERIFY2_WITH_TIMEOUT(w.consoleTab()->view()->toPlainText().contains(QStringLiteral("console-mark-42")),
                                  qPrintable(w.consoleTab()->view()->toPlainText().right(400)), 5000);

        // Code by the language choice: the minimal template has no Python, so the runner cannot start and the status says why.
        QCOMPARE(run->languageBox()->count(), 4);
        run->languageBox()->setCurrentIndex(run->languageBox()->findData(QStringLiteral("bash")));
        run->commandEdit()->setText(QStringLiteral("echo hi"));
        run->runButton()->click();
        QVERIFY(ran.wait(60000));
        QVERIFY2(run->statusLabel()->text().contains(QStringLiteral("agent template")), qPrintable(run->statusLabel()->text()));
        run->languageBox()->setCurrentIndex(0);

        // Files: upload a local file, download it back under another name.
        Gui::FilesTab *files = w.filesTab();
        QTemporaryDir local;
        const QByteArray payload = QByteArray(3 * 1024 * 1024, 'x') + QByteArrayLiteral("end");
        {
            QFile f(local.filePath(QStringLiteral("up.bin")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(payload);
        }
        QSignalSpy moved(files, &Gui::FilesTab::transferFinished);
        files->uploadLocalEdit()->setText(local.filePath(QStringLiteral("up.bin")));
        files->uploadGuestEdit()->setText(QStringLiteral("/tmp/up.bin"));
        files->upload();
        QVERIFY(moved.wait(60000));
        QVERIFY2(moved.last().at(0).toBool(), qPrintable(files->statusLabel()->text()));
        QCOMPARE(files->progressBar()->value(), 100);
        files->downloadGuestEdit()->setText(QStringLiteral("/tmp/up.bin"));
        files->downloadLocalEdit()->setText(local.filePath(QStringLiteral("down.bin")));
        files->download();
        QVERIFY(moved.wait(60000));
        QVERIFY2(moved.last().at(0).toBool(), qPrintable(files->statusLabel()->text()));
        {
            QFile f(local.filePath(QStringLiteral("down.bin")));
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY(f.readAll() == payload);
        }
        // A missing guest file fails clearly and leaves nothing behind.
        files->downloadGuestEdit()->setText(QStringLiteral("/no/such/file"));
        files->downloadLocalEdit()->setText(local.filePath(QStringLiteral("missing.bin")));
        files->download();
        QVERIFY(moved.wait(30000));
        QVERIFY(!moved.last().at(0).toBool());
        QVERIFY(!QFile::exists(local.filePath(QStringLiteral("missing.bin"))));

        // Cancelled transfers: an upload leaves nothing in the guest, a
        // download saves nothing here.
        {
            QFile f(local.filePath(QStringLiteral("big.bin")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            QVERIFY(f.resize(qint64(64) << 20));
        }
        files->uploadLocalEdit()->setText(local.filePath(QStringLiteral("big.bin")));
        files->uploadGuestEdit()->setText(QStringLiteral("/tmp/big.bin"));
        files->upload();
        QVERIFY(files->cancelButton()->isEnabled());
        files->cancelButton()->click();
        QVERIFY(moved.wait(60000));
        QVERIFY(!moved.last().at(0).toBool());
        QVERIFY2(files->statusLabel()->text().contains(QStringLiteral("cancelled")), qPrintable(files->statusLabel()->text()));
        QVERIFY(!files->cancelButton()->isEnabled());
        Agent::ExecRequest ls;
        ls.shell = QStringLiteral("ls -A /tmp | grep -c big || true; dd if=/dev/zero of=/tmp/guest-big bs=1M count=64 2>/dev/null");
        auto listed = await((*manager.agent(QStringLiteral("box")))->run(ls), 60000);
        QVERIFY(listed);
        QCOMPARE(listed->stdoutData.trimmed(), QByteArray("0"));
        files->downloadGuestEdit()->setText(QStringLiteral("/tmp/guest-big"));
        files->downloadLocalEdit()->setText(local.filePath(QStringLiteral("guest-big")));
        files->download();
        QTRY_VERIFY_WITH_TIMEOUT(files->cancelButton()->isEnabled(), 30000);
        files->cancelButton()->click();
        QVERIFY(moved.wait(60000));
        QVERIFY(!moved.last().at(0).toBool());
        QVERIFY2(files->statusLabel()->text().contains(QStringLiteral("cancelled")), qPrintable(files->statusLabel()->text()));
        QVERIFY(!QFile::exists(local.filePath(QStringLiteral("guest-big"))));

        // Pause, resume.
        w.action(MainWindow::Action::Pause)->trigger();
        QVERIFY(done.wait(30000));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(enabledActions(w), QStringLiteral("010111")); // Paused: stop, resume, restart, delete
        w.action(MainWindow::Action::Resume)->trigger();
        QVERIFY(done.wait(30000));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(enabledActions(w), QStringLiteral("011011"));

        // Closing the window with a VM running asks first, with three
        // choices: stop the VMs and quit, leave them running and quit (only
        // with a manager whose VMs may outlive it, as the app's), Cancel.
        // Cancel keeps it open.
        QCOMPARE(w.runningVms(), 1);
        for (const bool detachable : {false, true}) {
            manager.setDetachable(detachable);
            QVERIFY(!w.close());
            QVERIFY(w.isVisible());
            QMessageBox *box = w.quitConfirmation();
            QVERIFY(box);
            QCOMPARE(box->buttons().size(), 3);
            auto *stop = box->findChild<QPushButton *>(QStringLiteral("stopAndQuit"));
            auto *leave = box->findChild<QPushButton *>(QStringLiteral("leaveRunningAndQuit"));
            QVERIFY(stop && leave && box->button(QMessageBox::Cancel));
            QCOMPARE(stop->text(), QStringLiteral("Stop VMs and quit"));
            QCOMPARE(leave->text(), QStringLiteral("Leave running and quit"));
            QCOMPARE(leave->isEnabled(), detachable);
            QVERIFY2(box->text().contains(QLatin1String("leave them running")), qPrintable(box->text()));
            QCOMPARE(box->defaultButton(), box->button(QMessageBox::Cancel));
            box->button(QMessageBox::Cancel)->click();
            QTRY_VERIFY(!w.quitConfirmation());
            QVERIFY(w.isVisible());
            QVERIFY(manager.info(QStringLiteral("box"))->state == State::Ready);
        }
        manager.setDetachable(false);

        // Stop.
        w.action(MainWindow::Action::Stop)->trigger();
        QVERIFY(done.wait(60000));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QCOMPARE(w.model()->stateOf(QStringLiteral("box")), State::Stopped);
        QCOMPARE(enabledActions(w), QStringLiteral("100001"));

        // A VM that dies while running: the window says so, with its console
        // one click away.
        w.action(MainWindow::Action::Start)->trigger();
        QVERIFY(done.wait(kStartTimeoutMs));
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QVERIFY(!w.errorBox());
        // The status bar says how guests run here (TCG on these machines,
        // with why KVM is not used).
        QVERIFY(w.acceleratorLabel()->isVisibleTo(&w));
        if (manager.info(QStringLiteral("box"))->accelerated) {
            QCOMPARE(w.acceleratorLabel()->text(), QStringLiteral("KVM"));
        } else {
            QVERIFY(w.acceleratorLabel()->text().contains(QStringLiteral("TCG")));
            QVERIFY2(w.acceleratorLabel()->toolTip().contains(QStringLiteral("KVM is not used (")), qPrintable(w.acceleratorLabel()->toolTip()));
        }
        const qint64 pid = manager.vm(QStringLiteral("box"))->instance()->pid();
        QVERIFY(pid > 0);
        QCOMPARE(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
        QTRY_COMPARE_WITH_TIMEOUT(w.model()->stateOf(QStringLiteral("box")), State::Failed, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(w.errorBox(), 5000);
        QVERIFY2(w.errorBox()->text().contains(QStringLiteral("The VM box failed")), qPrintable(w.errorBox()->text()));
        auto *showConsole = w.errorBox()->findChild<QPushButton *>(QStringLiteral("showConsole"));
        QVERIFY(showConsole);
        w.details()->setCurrentIndex(0);
        showConsole->click();
        QCOMPARE(w.details()->currentWidget(), static_cast<QWidget *>(w.consoleTab()));
        QCOMPARE(enabledActions(w), QStringLiteral("100001")); // Failed: start again, or delete

        // Delete asks first: Cancel keeps it, Yes deletes it.
        w.action(MainWindow::Action::Delete)->trigger();
        QVERIFY(w.deleteConfirmation());
        w.deleteConfirmation()->button(QMessageBox::Cancel)->click();
        QTest::qWait(100);
        QVERIFY(manager.contains(QStringLiteral("box")));
        w.action(MainWindow::Action::Delete)->trigger();
        QVERIFY(w.deleteConfirmation());
        const qsizetype before = done.count();
        w.deleteConfirmation()->button(QMessageBox::Yes)->click();
        QTRY_VERIFY_WITH_TIMEOUT(done.count() > before, 30000); // a stopped VM goes at once
        QVERIFY2(done.last().at(1).toBool(), qPrintable(w.lastError()));
        QVERIFY(!manager.contains(QStringLiteral("box")));
        QCOMPARE(w.model()->rowOf(QStringLiteral("box")), -1);

        // Nothing runs: the window closes without asking.
        QCOMPARE(w.runningVms(), 0);
        QVERIFY(w.close());
        QVERIFY(!w.isVisible());
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
