#include "app/gui/mainwindow.h"

#include "app/gui/consoletab.h"
#include "app/gui/createdialog.h"
#include "app/gui/desktopgrid.h"
#include "app/gui/displaytab.h"
#include "app/gui/filestab.h"
#include "app/gui/icons.h"
#include "app/gui/portstab.h"
#include "app/gui/preferencesdialog.h"
#include "app/gui/resizedialog.h"
#include "app/gui/runtab.h"
#include "app/gui/snapshotstab.h"
#include "app/gui/sparklinedelegate.h"
#include "app/gui/vmlistmodel.h"
#include "app/gui/welcomepane.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/kvmprobe.h"
#include "core/workerpool.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTabBar>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolButton>
#include <QTableView>
#include <QToolBar>

namespace Gui {
namespace {

constexpr int kMessageMs = 10000;

} // namespace

MainWindow::MainWindow(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent)
    : QMainWindow(parent)
    , m_manager(manager)
    , m_displays(displays)
{
    setWindowTitle(tr("MicroVM Sandbox"));

    m_model = new VmListModel(manager, this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(VmListModel::SortRole);
    m_proxy->setDynamicSortFilter(true);

    m_view = new QTableView(this);
    m_view->setAccessibleName(tr("Virtual machines"));
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(VmListModel::NameColumn, Qt::AscendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);
    // The last minute of each VM's CPU behind its number.
    m_view->setItemDelegateForColumn(VmListModel::CpuColumn, new SparklineDelegate(VmListModel::CpuHistoryRole, 100, m_view));
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);

    buildDetails();

    m_grid = new DesktopGrid(manager, displays, this);
    connect(m_grid, &DesktopGrid::vmActivated, this, &MainWindow::openDisplay);
    connect(m_grid, &DesktopGrid::controlToggled, this, &MainWindow::desktopControlToggled);
    connect(m_view, &QTableView::doubleClicked, this, [this](const QModelIndex &index) { openDisplay(index.data(VmListModel::NameRole).toString()); });
    m_overview = new QTabWidget(this);
    m_overview->addTab(m_view, tr("VMs"));
    m_overview->addTab(m_grid, tr("Desktops"));
    m_overview->setDocumentMode(true);

    m_welcome = new WelcomePane(this);
    m_detailsStack = new QStackedWidget(this);
    m_detailsStack->addWidget(m_welcome);
    m_detailsStack->addWidget(m_details);
    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_overview);
    splitter->addWidget(m_detailsStack);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 2);
    splitter->setSizes({260, 520});
    setCentralWidget(splitter);

    buildActions();
    buildStatusBar();

    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &MainWindow::onSelectionChanged);
    connect(m_view, &QTableView::customContextMenuRequested, this, [this](const QPoint &pos) {
        QMenu *menu = new QMenu(this);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        for (Action a : {Action::Start, Action::Stop, Action::Pause, Action::Resume, Action::Restart})
            menu->addAction(action(a));
        menu->addAction(action(Action::Snapshot));
        menu->addAction(action(Action::Resize));
        menu->addSeparator();
        menu->addAction(action(Action::Delete));
        menu->addSeparator();
        menu->addAction(action(Action::Create));
        menu->popup(m_view->viewport()->mapToGlobal(pos));
    });
    connect(&manager, &Vm::VmManager::vmStateChanged, this, &MainWindow::onStateChanged);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, &MainWindow::onSelectionChanged);
    connect(m_model, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateEmptyState);
    connect(m_model, &QAbstractItemModel::modelReset, this, &MainWindow::updateEmptyState);
    connect(m_welcome, &WelcomePane::createRequested, action(Action::Create), &QAction::trigger);
    connect(m_welcome, &WelcomePane::copyTokenRequested, m_copyToken, &QPushButton::click);
    resize(1100, 800);
    onSelectionChanged();
}

MainWindow::~MainWindow() = default;

// The selected VM's tabs.
void MainWindow::buildDetails()
{
    m_details = new QTabWidget(this);
    m_details->setAccessibleName(tr("Details of the selected VM"));
    m_displayTab = new DisplayTab(m_manager, m_displays, m_details);
    connect(m_displayTab, &DisplayTab::controlToggled, this, &MainWindow::desktopControlToggled);
    m_consoleTab = new ConsoleTab(m_manager, m_details);
    m_runTab = new RunTab(m_manager, m_details);
    m_filesTab = new FilesTab(m_manager, m_details);
    m_snapshotsTab = new SnapshotsTab(m_manager, m_details);
    m_portsTab = new PortsTab(m_manager, m_details);
    m_performanceTab = new PerformanceTab(m_details);
    m_activityTab = new ActivityTab(m_details);
    m_details->addTab(m_displayTab, tr("Display"));
    m_details->addTab(m_consoleTab, tr("Console"));
    m_details->addTab(m_runTab, tr("Run"));
    m_details->addTab(m_filesTab, tr("Files"));
    m_details->addTab(m_snapshotsTab, tr("Snapshots"));
    m_details->addTab(m_portsTab, tr("Ports"));
    m_details->addTab(m_performanceTab, tr("Performance"));
    m_details->addTab(m_activityTab, tr("Activity"));
}

void MainWindow::buildActions()
{
    struct Spec {
        Action which;
        QString text;
        QString objectName;
        QKeySequence shortcut;
        QString themeIcon; // a freedesktop name
        QString icon; // our fallback (resources/icons/actions)
    };
    const auto keys = [](const char *text) { return QKeySequence(QLatin1String(text)); };
    const QList<Spec> specs{
        {Action::Create, tr("&Create…"), QStringLiteral("actionCreate"), QKeySequence::New, QStringLiteral("list-add"), QStringLiteral("create")},
        {Action::Start, tr("&Start"), QStringLiteral("actionStart"), keys("Ctrl+Shift+S"), QStringLiteral("media-playback-start"), QStringLiteral("start")},
        {Action::Stop, tr("S&top"), QStringLiteral("actionStop"), keys("Ctrl+Shift+T"), QStringLiteral("media-playback-stop"), QStringLiteral("stop")},
        {Action::Pause, tr("&Pause"), QStringLiteral("actionPause"), keys("Ctrl+Shift+P"), QStringLiteral("media-playback-pause"), QStringLiteral("pause")},
        {Action::Resume, tr("&Resume"), QStringLiteral("actionResume"), keys("Ctrl+Shift+U"), QStringLiteral("media-playback-start"), QStringLiteral("start")},
        {Action::Restart, tr("Res&tart"), QStringLiteral("actionRestart"), keys("Ctrl+Shift+R"), QStringLiteral("view-refresh"), QStringLiteral("restart")},
        {Action::Delete, tr("&Delete…"), QStringLiteral("actionDelete"), QKeySequence::Delete, QStringLiteral("edit-delete"), QStringLiteral("delete")},
        {Action::Snapshot, tr("Take s&napshot"), QStringLiteral("actionSnapshot"), keys("Ctrl+Shift+N"), QStringLiteral("camera-photo"),
         QStringLiteral("snapshot")},
        {Action::Resize, tr("Resi&ze…"), QStringLiteral("actionResize"), keys("Ctrl+Shift+Z"), QStringLiteral("zoom-fit-best"), QStringLiteral("resize")},
    };
    QToolBar *toolbar = addToolBar(tr("VM"));
    toolbar->setObjectName(QStringLiteral("vmToolBar"));
    toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    QMenu *menu = menuBar()->addMenu(tr("&VM"));
    for (const Spec &s : specs) {
        auto *a = new QAction(Icons::themed(s.themeIcon, s.icon), s.text, this);
        a->setObjectName(s.objectName);
        if (!s.shortcut.isEmpty())
            a->setShortcut(s.shortcut);
        m_actions << a;
        toolbar->addAction(a);
        menu->addAction(a);
        if (s.which == Action::Create || s.which == Action::Restart || s.which == Action::Delete)
            toolbar->addSeparator();
    }
    menu->addSeparator();
    QAction *quit = menu->addAction(Icons::themed(QStringLiteral("application-exit"), QStringLiteral("quit")), tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu *viewMenu = menuBar()->addMenu(tr("V&iew"));
    m_wall = viewMenu->addAction(Icons::themed(QStringLiteral("view-grid"), QStringLiteral("wall")), tr("Desktops &wall"));
    m_wall->setObjectName(QStringLiteral("actionWall"));
    m_wall->setCheckable(true);
    m_wall->setShortcut(QKeySequence(Qt::Key_F11));
    m_wall->setToolTip(tr("Every running desktop in tiles that fill the window"));
    connect(m_wall, &QAction::toggled, this, &MainWindow::setWallMode);
    toolbar->addSeparator();
    toolbar->addAction(m_wall);

    QMenu *settings = menuBar()->addMenu(tr("&Settings"));
    m_preferences = settings->addAction(Icons::themed(QStringLiteral("preferences-system"), QStringLiteral("preferences")), tr("&Preferences…"));
    m_preferences->setObjectName(QStringLiteral("actionPreferences"));
    m_preferences->setShortcut(QKeySequence::Preferences);
    connect(m_preferences, &QAction::triggered, this, &MainWindow::openPreferences);

    connect(action(Action::Create), &QAction::triggered, this, &MainWindow::openCreateDialog);
    connect(action(Action::Delete), &QAction::triggered, this, &MainWindow::confirmDelete);
    connect(action(Action::Resize), &QAction::triggered, this, &MainWindow::openResizeDialog);
    // The snapshots tab takes it: it shows the progress and the result.
    connect(action(Action::Snapshot), &QAction::triggered, this, [this]() {
        m_details->setCurrentWidget(m_snapshotsTab);
        m_snapshotsTab->take();
    });
    for (Action a : {Action::Start, Action::Stop, Action::Pause, Action::Resume, Action::Restart})
        connect(action(a), &QAction::triggered, this, [this, a]() { operate(a); });
}

void MainWindow::buildStatusBar()
{
    m_urlLabel = new QLabel(this);
    m_urlLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_copyToken = new QPushButton(Icons::themed(QStringLiteral("edit-copy"), QStringLiteral("copy")), tr("Copy token"), this);
    m_copyToken->setToolTip(tr("Copy the API's bearer token to the clipboard"));
    m_copyToken->setEnabled(false);
    connect(m_copyToken, &QPushButton::clicked, this, [this]() {
        QApplication::clipboard()->setText(QString::fromUtf8(m_token));
        statusBar()->showMessage(tr("The API token was copied to the clipboard."), kMessageMs);
    });
    m_buildProgress = new QProgressBar(this);
    m_buildProgress->setObjectName(QStringLiteral("buildProgress"));
    m_buildProgress->setRange(0, 100);
    m_buildProgress->setMaximumWidth(160);
    m_buildProgress->hide();
    m_cancelBuild = new QToolButton(this);
    m_cancelBuild->setText(tr("Cancel build"));
    m_cancelBuild->setToolTip(tr("Stop preparing the guest image (the VM is not started)"));
    m_cancelBuild->hide();
    connect(m_cancelBuild, &QToolButton::clicked, this, &MainWindow::cancelBuild);
    connect(&m_manager, &Vm::VmManager::imageProgress, this, &MainWindow::showImageProgress);
    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &name, Vm::VirtualMachine::State state) {
        if (name == m_buildingVm && state != Vm::VirtualMachine::State::Preparing)
            hideBuildProgress();
    });
    m_accelLabel = new QLabel(this);
    m_accelLabel->setObjectName(QStringLiteral("accelLabel"));
    m_accelLabel->hide();
    // Why KVM is not used, for the TCG note (cached by core after the first probe).
    const auto kvm = Core::runInThread<Vmm::KvmStatus>([]() { return Core::Expected<Vmm::KvmStatus>(Vmm::kvmStatus()); });
    Core::whenDone(kvm, this, [this](const Core::Expected<Vmm::KvmStatus> &k) {
        if (k && !k->usable)
            m_kvmReason = k->reason;
    });
    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &name, Vm::VirtualMachine::State state) {
        if (state == Vm::VirtualMachine::State::Ready)
            showAccelerator(name);
    });
    m_poolLabel = new QLabel(this);
    m_poolLabel->setObjectName(QStringLiteral("poolLabel"));
    connect(&m_manager, &Vm::VmManager::poolChanged, this, &MainWindow::showPool);
    showPool();
    statusBar()->addPermanentWidget(m_poolLabel);
    statusBar()->addPermanentWidget(m_accelLabel);
    statusBar()->addPermanentWidget(m_buildProgress);
    statusBar()->addPermanentWidget(m_cancelBuild);
    statusBar()->addPermanentWidget(m_urlLabel);
    statusBar()->addPermanentWidget(m_copyToken);
    setService(QString(), QByteArray());
}

void MainWindow::setActivitySource(ActivitySource source)
{
    m_activityTab->setSource(std::move(source));
}

void MainWindow::addActivity(const ActivityItem &item)
{
    m_activityTab->add(item);
    m_displayTab->showAction(item);
    if (item.result == QLatin1String("ok"))
        m_grid->noteAgentAction(item.vm);
}

void MainWindow::setWallMode(bool on)
{
    if (m_wall->isChecked() != on) {
        m_wall->setChecked(on); // toggled() comes back here
        return;
    }
    m_detailsStack->setVisible(!on);
    m_overview->tabBar()->setVisible(!on);
    if (on)
        m_overview->setCurrentWidget(m_grid);
}

void MainWindow::updateEmptyState()
{
    if (m_model->rowCount() == 0)
        m_welcome->setMode(WelcomePane::Mode::NoVms);
    else if (selectedVm().isEmpty())
        m_welcome->setMode(WelcomePane::Mode::NoSelection);
    else {
        m_detailsStack->setCurrentWidget(m_details);
        return;
    }
    m_detailsStack->setCurrentWidget(m_welcome);
}

bool MainWindow::wallMode() const
{
    return m_wall->isChecked();
}

void MainWindow::setUsageSource(UsageSource source)
{
    m_performanceTab->setSource(std::move(source));
}

// The paused pool: how many VMs are ready to be claimed; per template in
// the tooltip, with why it is short.
void MainWindow::showPool()
{
    const Vm::VmPool *pool = m_manager.pool();
    const QList<Vm::VmPool::Status> status = pool ? pool->status() : QList<Vm::VmPool::Status>();
    int ready = 0;
    int target = 0;
    QStringList lines;
    for (const Vm::VmPool::Status &s : status) {
        ready += s.ready;
        target += s.target;
        QString line = tr("%1: %2 of %3 ready, %4 being restored").arg(s.templateName).arg(s.ready).arg(s.target).arg(s.filling);
        if (!s.lastError.isEmpty())
            line += tr(" (%1)").arg(s.lastError);
        lines << line;
    }
    m_poolLabel->setVisible(target > 0);
    m_poolLabel->setText(tr("Pool: %1/%2 ready").arg(ready).arg(target));
    m_poolLabel->setToolTip(tr("VMs restored ahead and kept paused: creating a VM of these templates resumes one.\n%1").arg(lines.join(QLatin1Char('\n'))));
}

void MainWindow::setService(const QString &url, const QByteArray &token, const QString &error)
{
    m_token = token;
    if (!url.isEmpty())
        m_urlLabel->setText(tr("API: %1").arg(url));
    else if (!error.isEmpty())
        m_urlLabel->setText(tr("API not serving: %1").arg(error));
    else
        m_urlLabel->setText(tr("API not serving"));
    m_copyToken->setEnabled(!token.isEmpty());
    m_welcome->setServiceUrl(token.isEmpty() ? QString() : url);
}

QAction *MainWindow::action(Action which) const
{
    return m_actions.value(static_cast<int>(which));
}

bool MainWindow::isValid(Action which, Vm::VirtualMachine::State state)
{
    using State = Vm::VirtualMachine::State;
    switch (which) {
    case Action::Create: return true;
    case Action::Start: return state == State::Created || state == State::Stopped || state == State::Failed;
    case Action::Stop: return state == State::Preparing || state == State::Booting || state == State::Ready || state == State::Paused;
    case Action::Pause: return state == State::Ready;
    case Action::Resume: return state == State::Paused;
    case Action::Restart: return state == State::Ready || state == State::Paused;
    case Action::Delete: return true;
    case Action::Snapshot: return state == State::Ready || state == State::Paused;
    case Action::Resize: return state == State::Created || state == State::Stopped || state == State::Failed || state == State::Ready;
    }
    return false;
}

QString MainWindow::selectedVm() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return rows.first().data(VmListModel::NameRole).toString();
}

bool MainWindow::selectVm(const QString &name)
{
    const int row = m_model->rowOf(name);
    if (row < 0)
        return false;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    m_view->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_view->setCurrentIndex(index);
    return true;
}

void MainWindow::openDisplay(const QString &name)
{
    if (!selectVm(name))
        return;
    setWallMode(false);
    m_overview->setCurrentWidget(m_view);
    m_details->setCurrentWidget(m_displayTab);
}

void MainWindow::onSelectionChanged()
{
    updateEmptyState();
    const QString vm = selectedVm();
    m_displayTab->setVm(vm);
    m_consoleTab->setVm(vm);
    m_runTab->setVm(vm);
    m_filesTab->setVm(vm);
    m_snapshotsTab->setVm(vm);
    m_portsTab->setVm(vm);
    m_performanceTab->setVm(vm);
    m_activityTab->setVm(vm);
    updateActions();
}

void MainWindow::updateActions()
{
    const QString vm = selectedVm();
    const bool selected = !vm.isEmpty() && m_manager.contains(vm);
    const Vm::VirtualMachine::State state = selected ? m_model->stateOf(vm) : Vm::VirtualMachine::State::Created;
    for (int i = 0; i < m_actions.size(); ++i) {
        const auto which = static_cast<Action>(i);
        m_actions.at(i)->setEnabled(which == Action::Create || (selected && isValid(which, state)));
    }
}

void MainWindow::openCreateDialog()
{
    if (m_createDialog) {
        m_createDialog->raise();
        return;
    }
    auto *dialog = new CreateDialog(m_manager, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    m_createDialog = dialog;
    connect(dialog, &QDialog::accepted, this, [this, dialog]() { createFrom(dialog); });
    dialog->open();
}

void MainWindow::openResizeDialog()
{
    const auto info = m_manager.info(selectedVm());
    if (!info)
        return;
    if (m_resizeDialog)
        m_resizeDialog->close();
    auto *dialog = new ResizeDialog(*info, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    m_resizeDialog = dialog;
    connect(dialog, &QDialog::accepted, this, [this, dialog]() { resizeFrom(dialog); });
    dialog->open();
}

void MainWindow::resizeFrom(ResizeDialog *dialog)
{
    const QString vm = dialog->vmName();
    const Vm::VmManager::Resources resources = dialog->resources();
    if (!resources.vcpus && !resources.memoryMiB && !resources.maxVcpus)
        return;
    m_pending.insert(vm);
    updateActions();
    Core::whenDone(m_manager.resize(vm, resources), this, [this, vm](const Core::Result &r) {
        m_pending.remove(vm);
        if (!r) {
            showError(tr("Cannot resize %1: %2").arg(vm, r.error().message), vm);
        } else if (const auto info = m_manager.info(vm)) {
            const qint64 memory = info->memoryNowMiB > 0 ? info->memoryNowMiB : info->record.memoryMiB;
            statusBar()->showMessage(tr("%1 has %2 vCPUs and %3 MiB.").arg(vm).arg(info->record.vcpus).arg(memory), kMessageMs);
        }
        updateActions();
        Q_EMIT operationFinished(vm, r.hasValue());
    });
}

void MainWindow::createFrom(CreateDialog *dialog)
{
    const Vm::VmManager::CreateOptions options = dialog->options();
    auto created = m_manager.create(options);
    if (!created) {
        showError(tr("Cannot create %1: %2").arg(options.name, created.error().message));
        return;
    }
    selectVm(options.name);
    statusBar()->showMessage(tr("Created %1.").arg(options.name), kMessageMs);
    if (dialog->startNow())
        operate(Action::Start);
}

void MainWindow::confirmDelete()
{
    const QString vm = selectedVm();
    if (vm.isEmpty() || m_confirmDelete)
        return;
    auto *box = new QMessageBox(QMessageBox::Question, tr("Delete %1?").arg(vm),
                                tr("Delete the VM %1? It is stopped if it runs, and its disk, record and console log are deleted.").arg(vm),
                                QMessageBox::Yes | QMessageBox::Cancel, this);
    box->setObjectName(QStringLiteral("confirmDelete"));
    box->setDefaultButton(QMessageBox::Cancel);
    box->setAttribute(Qt::WA_DeleteOnClose);
    m_confirmDelete = box;
    connect(box, &QMessageBox::finished, this, [this, vm](int result) {
        if (result != QMessageBox::Yes)
            return;
        Core::whenDone(m_manager.remove(vm), this, [this, vm](const Core::Result &r) {
            if (!r)
                showError(tr("Cannot delete %1: %2").arg(vm, r.error().message));
            else
                statusBar()->showMessage(tr("Deleted %1.").arg(vm), kMessageMs);
            Q_EMIT operationFinished(vm, r.hasValue());
        });
    });
    box->open();
}

void MainWindow::operate(Action which)
{
    const QString vm = selectedVm();
    if (vm.isEmpty())
        return;
    Core::Future<void> future;
    QString doing;
    switch (which) {
    case Action::Start:
        future = m_manager.start(vm);
        doing = tr("start");
        break;
    case Action::Stop:
        future = m_manager.stop(vm);
        doing = tr("stop");
        break;
    case Action::Pause:
        future = m_manager.pause(vm);
        doing = tr("pause");
        break;
    case Action::Resume:
        future = m_manager.resume(vm);
        doing = tr("resume");
        break;
    case Action::Restart:
        future = m_manager.restart(vm);
        doing = tr("restart");
        break;
    case Action::Create:
    case Action::Delete:
    case Action::Snapshot:
    case Action::Resize: return;
    }
    m_pending.insert(vm);
    updateActions();
    Core::whenDone(future, this, [this, vm, doing](const Core::Result &r) {
        m_pending.remove(vm);
        // Stopped or deleted while starting is what was asked, not a fault.
        if (!r && r.error().code != Core::ErrorCode::Cancelled)
            showError(tr("Cannot %1 %2: %3").arg(doing, vm, r.error().message), vm);
        updateActions();
        Q_EMIT operationFinished(vm, r.hasValue());
    });
}

// Image builds say how far they are in the status bar.
void MainWindow::showImageProgress(const QString &vm, const QString &step, int percent)
{
    statusBar()->showMessage(tr("%1: preparing the image: %2 (%3%)").arg(vm, step).arg(percent), kMessageMs);
    if (percent >= 100) {
        if (vm == m_buildingVm)
            hideBuildProgress();
        return;
    }
    m_buildingVm = vm;
    m_buildProgress->setValue(percent);
    m_buildProgress->setFormat(tr("%1: image %p%").arg(vm));
    m_buildProgress->show();
    m_cancelBuild->show();
}

// The first VM that runs tells how guests run on this host: say it, and when
// it is software emulation, why and what it means.
void MainWindow::showAccelerator(const QString &vm)
{
    const auto info = m_manager.info(vm);
    if (!info)
        return;
    if (info->accelerated) {
        m_accelLabel->setText(tr("KVM"));
        m_accelLabel->setToolTip(tr("Guests run with hardware virtualization (KVM)."));
    } else {
        const QString why = m_kvmReason.isEmpty() ? tr("KVM looks usable, but a guest kernel does not boot under it on this host") : m_kvmReason;
        m_accelLabel->setText(tr("TCG: software emulation"));
        m_accelLabel->setToolTip(tr("KVM is not used (%1), so QEMU emulates the CPU in software (TCG). Guests work the same, "
                                    "but boot and run several times slower.")
                                     .arg(why));
    }
    m_accelLabel->show();
}

void MainWindow::hideBuildProgress()
{
    m_buildingVm.clear();
    m_buildProgress->hide();
    m_cancelBuild->hide();
}

void MainWindow::cancelBuild()
{
    if (m_manager.cancelImageBuild(m_buildingVm))
        statusBar()->showMessage(tr("Cancelled preparing the image of %1.").arg(m_buildingVm), kMessageMs);
    hideBuildProgress();
}

int MainWindow::runningVms() const
{
    int running = 0;
    for (const Vm::VmInfo &info : m_manager.list())
        running += info.state != Vm::VirtualMachine::State::Created && info.state != Vm::VirtualMachine::State::Stopped
                && info.state != Vm::VirtualMachine::State::Failed
            ? 1
            : 0;
    return running;
}

// Quitting with VMs running asks what to do with them: stop them, or leave
// them running (the VM manager lets go of them; the next start of the app
// adopts them again). The records keep the desired state either way.
void MainWindow::closeEvent(QCloseEvent *event)
{
    const int running = runningVms();
    if (m_quitConfirmed || running == 0) {
        event->accept();
        return;
    }
    event->ignore();
    if (m_confirmQuit) {
        m_confirmQuit->raise();
        return;
    }
    auto *box = new QMessageBox(
        QMessageBox::Question, tr("Quit MicroVM Sandbox?"),
        tr("%n VM(s) are running. Stop them, or leave them running: the next start of MicroVM Sandbox takes them over again.", nullptr, running),
        QMessageBox::Cancel, this);
    QPushButton *stop = box->addButton(tr("Stop VMs and quit"), QMessageBox::DestructiveRole);
    stop->setObjectName(QStringLiteral("stopAndQuit"));
    QPushButton *leave = box->addButton(tr("Leave running and quit"), QMessageBox::AcceptRole);
    leave->setObjectName(QStringLiteral("leaveRunningAndQuit"));
    if (!m_manager.isDetachable()) {
        leave->setEnabled(false);
        leave->setToolTip(tr("This window's VMs were started so that they stop with it."));
    } else {
        leave->setToolTip(tr("VMs that are still starting or stopping are stopped."));
    }
    box->setDefaultButton(QMessageBox::Cancel);
    box->setObjectName(QStringLiteral("confirmQuit"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    m_confirmQuit = box;
    connect(box, &QMessageBox::buttonClicked, this, [this, stop, leave](QAbstractButton *clicked) {
        if (clicked != stop && clicked != leave)
            return;
        if (clicked == leave)
            m_manager.detachAll(); // what cannot be left running stops with the manager
        m_quitConfirmed = true;
        QMetaObject::invokeMethod(this, &QWidget::close, Qt::QueuedConnection);
    });
    box->open();
}

void MainWindow::onStateChanged(const QString &vm, Vm::VirtualMachine::State state)
{
    updateActions();
    // A VM that fails while running (its VMM died, its agent went away):
    // say so, with its serial log one click away. A failed operation of
    // this window is reported where it ends.
    if (state != Vm::VirtualMachine::State::Failed || m_pending.contains(vm))
        return;
    // The reason is recorded by the same failure: read it once that is done.
    QMetaObject::invokeMethod(
        this,
        [this, vm]() {
            auto info = m_manager.info(vm);
            if (!info || info->state != Vm::VirtualMachine::State::Failed)
                return;
            const QString why = info->record.lastError ? info->record.lastError->message : tr("no reason was given");
            showError(tr("The VM %1 failed: %2").arg(vm, why), vm);
        },
        Qt::QueuedConnection);
}

void MainWindow::openPreferences()
{
    if (m_preferencesDialog) {
        m_preferencesDialog->raise();
        return;
    }
    auto *dialog = new PreferencesDialog(Preferences::load(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    m_preferencesDialog = dialog;
    connect(dialog, &QDialog::accepted, this, [this, dialog]() {
        if (dialog->preferences().save())
            statusBar()->showMessage(tr("Preferences saved; they apply the next time MicroVM Sandbox starts."), kMessageMs);
        else
            showError(tr("Cannot save the preferences to %1.").arg(Preferences::path()));
    });
    dialog->open();
}

void MainWindow::openConsole(const QString &vm)
{
    if (!selectVm(vm))
        return;
    m_overview->setCurrentWidget(m_view);
    m_details->setCurrentWidget(m_consoleTab);
}

void MainWindow::showError(const QString &message, const QString &vm)
{
    m_lastError = message;
    statusBar()->showMessage(message, 3 * kMessageMs);
    if (m_errorBox)
        m_errorBox->close(); // the newest error replaces the last one
    auto *box = new QMessageBox(QMessageBox::Warning, tr("MicroVM Sandbox"), message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("errorMessage"));
    box->setTextFormat(Qt::PlainText); // errors can carry a guest's text
    if (!vm.isEmpty() && m_manager.contains(vm)) {
        QPushButton *console = box->addButton(tr("Show console"), QMessageBox::ActionRole);
        console->setObjectName(QStringLiteral("showConsole"));
        connect(console, &QPushButton::clicked, this, [this, vm]() { openConsole(vm); });
    }
    m_errorBox = box;
    box->open();
}

QString MainWindow::applicationDisplayName()
{
    return tr("MicroVM Sandbox");
}

void MainWindow::showStartupError(const QString &message)
{
    QMessageBox box(QMessageBox::Critical, applicationDisplayName(), tr("MicroVM Sandbox cannot manage VMs here:\n\n%1").arg(message));
    box.setTextFormat(Qt::PlainText);
    box.exec();
}

} // namespace Gui
