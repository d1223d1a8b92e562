#pragma once
// Gui::MainWindow: every VM in a sortable table, the actions that fit the
// selected VM's state (toolbar and context menu), and a details pane with its
// live display, serial console, a command runner and file transfers. The
// status bar shows the in-process API service's URL and copies its token.

#include "app/gui/createdialog.h"
#include "app/gui/activitytab.h"
#include "app/gui/performancetab.h"
#include "app/gui/resizedialog.h"
#include "core/vm/virtualmachine.h"
#include "desktop/displayhub.h"

#include <QHash>
#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>
#include <QSet>

class QAction;
class QLabel;
class QProgressBar;
class QPushButton;
class QToolButton;
class QSortFilterProxyModel;
class QStackedWidget;
class QTabWidget;
class QTableView;

namespace Vm {
class VmManager;
}

namespace Gui {

class ConsoleTab;
class DesktopGrid;
class DisplayTab;
class FilesTab;
class RunTab;
class PortsTab;
class SnapshotsTab;
class VmListModel;
class WelcomePane;

class MainWindow final : public QMainWindow {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    enum class Action { Create, Start, Stop, Pause, Resume, Restart, Delete, Snapshot, Resize };

    // The manager and the hub (may be null) must outlive the window.
    MainWindow(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent = nullptr);
    ~MainWindow() override;

    // The in-process API service, for the status bar. An empty url with an
    // error says why it does not serve.
    void setService(const QString &url, const QByteArray &token, const QString &error = QString());

    QAction *action(Action which) const;
    // Which actions fit a VM in this state (Create always does).
    static bool isValid(Action which, Vm::VirtualMachine::State state);
    // The application's name for people, and the message box for a service
    // that cannot start (before any window exists); translated.
    static QString applicationDisplayName();
    static void showStartupError(const QString &message);

    // The image build the status bar shows, or empty; Cancel stops it (the
    // start then ends without an error).
    QString buildingVm() const { return m_buildingVm; }
    QLabel *acceleratorLabel() const { return m_accelLabel; }
    // Where the Performance tab reads a VM's usage (the service's history).
    void setUsageSource(UsageSource source);
    PerformanceTab *performanceTab() const { return m_performanceTab; }
    // The Activity tab's history, and each event as it happens (also drawn
    // over the Display tab's view and lighting the desktop's wall tile).
    void setActivitySource(ActivitySource source);
    void addActivity(const ActivityItem &item);
    ActivityTab *activityTab() const { return m_activityTab; }
    // "Pool: N ready" while the paused pool has targets (Vm::VmPool).
    QLabel *poolLabel() const { return m_poolLabel; }
    void cancelBuild();

    QString selectedVm() const;
    bool selectVm(const QString &name);

    VmListModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }
    // The list and the desktop grid share the upper half.
    QTabWidget *overview() const { return m_overview; }
    DesktopGrid *desktopGrid() const { return m_grid; }
    // Select the VM, show the list and its display tab (leaving the wall).
    void openDisplay(const QString &name);
    // The desktops wall fills the window: the list's tab bar and the
    // details pane are hidden (View → Desktops wall, F11).
    void setWallMode(bool on);
    bool wallMode() const;
    QAction *wallAction() const { return m_wall; }
    // What the details pane shows with no VM, or none selected.
    WelcomePane *welcomePane() const { return m_welcome; }
    QTabWidget *details() const { return m_details; }
    DisplayTab *displayTab() const { return m_displayTab; }
    ConsoleTab *consoleTab() const { return m_consoleTab; }
    RunTab *runTab() const { return m_runTab; }
    FilesTab *filesTab() const { return m_filesTab; }
    SnapshotsTab *snapshotsTab() const { return m_snapshotsTab; }
    PortsTab *portsTab() const { return m_portsTab; }
    QLabel *urlLabel() const { return m_urlLabel; }
    QPushButton *copyTokenButton() const { return m_copyToken; }
    // The open create dialog / delete confirmation, if any (for tests).
    CreateDialog *createDialog() const { return m_createDialog; }
    ResizeDialog *resizeDialog() const { return m_resizeDialog; }
    QMessageBox *deleteConfirmation() const { return m_confirmDelete; }
    QMessageBox *errorBox() const { return m_errorBox; }
    // Settings > Preferences (saved on OK; applied at the next start).
    QAction *preferencesAction() const { return m_preferences; }
    QDialog *preferencesDialog() const { return m_preferencesDialog; }
    // The last operation error shown (empty: none yet).
    QString lastError() const { return m_lastError; }
    // VMs this window's manager runs (quitting asks whether to stop them or
    // leave them running; see closeEvent).
    int runningVms() const;
    QMessageBox *quitConfirmation() const { return m_confirmQuit; }

Q_SIGNALS:
    void operationFinished(const QString &vm, bool ok);
    // A take-over (human) or release of a desktop in this window.
    void desktopControlToggled(const QString &vm, bool human);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void showImageProgress(const QString &vm, const QString &step, int percent);
    void buildDetails();
    void buildStatusBar();
    void updateActions();
    void onSelectionChanged();
    // The details pane, the welcome (no VMs) or the hint (none selected).
    void updateEmptyState();
    void openCreateDialog();
    void createFrom(CreateDialog *dialog);
    void openResizeDialog();
    void resizeFrom(ResizeDialog *dialog);
    void confirmDelete();
    void operate(Action which);
    // A message box (non-modal); for a VM, with a button to its console.
    void showError(const QString &message, const QString &vm = QString());
    void onStateChanged(const QString &vm, Vm::VirtualMachine::State state);
    void openConsole(const QString &vm);
    void openPreferences();

    Vm::VmManager &m_manager;
    QPointer<Desktop::DisplayHub> m_displays;
    VmListModel *m_model = nullptr;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QTabWidget *m_overview = nullptr;
    DesktopGrid *m_grid = nullptr;
    QAction *m_wall = nullptr;
    QStackedWidget *m_detailsStack = nullptr; // m_welcome or m_details
    WelcomePane *m_welcome = nullptr;
    QTabWidget *m_details = nullptr;
    DisplayTab *m_displayTab = nullptr;
    ConsoleTab *m_consoleTab = nullptr;
    RunTab *m_runTab = nullptr;
    FilesTab *m_filesTab = nullptr;
    SnapshotsTab *m_snapshotsTab = nullptr;
    PortsTab *m_portsTab = nullptr;
    PerformanceTab *m_performanceTab = nullptr;
    ActivityTab *m_activityTab = nullptr;
    QList<QAction *> m_actions; // indexed by Action
    QLabel *m_urlLabel = nullptr;
    // How guests run here: KVM, or TCG with why KVM is not used (probed off
    // the GUI thread).
    QLabel *m_accelLabel = nullptr;
    QLabel *m_poolLabel = nullptr;
    QString m_kvmReason;
    void showAccelerator(const QString &vm);
    void showPool();
    QPushButton *m_copyToken = nullptr;
    QByteArray m_token;
    QPointer<CreateDialog> m_createDialog;
    QPointer<ResizeDialog> m_resizeDialog;
    QPointer<QMessageBox> m_confirmDelete;
    QPointer<QMessageBox> m_confirmQuit;
    bool m_quitConfirmed = false;
    // An image build in progress (one at a time is shown): its bar and Cancel.
    QProgressBar *m_buildProgress = nullptr;
    QToolButton *m_cancelBuild = nullptr;
    QString m_buildingVm;
    void hideBuildProgress();
    QString m_lastError;
    QPointer<QMessageBox> m_errorBox;
    QAction *m_preferences = nullptr;
    QPointer<QDialog> m_preferencesDialog;
    QSet<QString> m_pending; // VMs with an operation of this window under way
};

} // namespace Gui
