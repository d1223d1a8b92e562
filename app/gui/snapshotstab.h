#pragma once
// Gui::SnapshotsTab: the selected VM's snapshots (name, time, parent, size,
// how long the VM was paused), with Take, Restore, Fork… and Delete…. Each
// operation runs asynchronously and shows a busy bar and what it is doing;
// Restore and Delete ask first. The list follows VmManager::snapshotsChanged.

#include <QPointer>
#include <QWidget>

class QCheckBox;
class QDialog;
class QLabel;
class QLineEdit;
class QMessageBox;
class QProgressBar;
class QPushButton;
class QTreeWidget;

namespace Vm {
class VmManager;
}

namespace Gui {

class SnapshotsTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SnapshotsTab)
public:
    enum Column { NameColumn, TakenColumn, ParentColumn, SizeColumn, PausedColumn };

    // The manager must outlive the tab.
    explicit SnapshotsTab(Vm::VmManager &manager, QWidget *parent = nullptr);
    ~SnapshotsTab() override;

    void setVm(const QString &name);
    QString vm() const { return m_vm; }
    QString selectedSnapshot() const;
    bool selectSnapshot(const QString &name);

    // What the buttons do. restoreSelected/deleteSelected ask first (see
    // confirmation()); fork opens forkDialog().
    void take();
    void restoreSelected();
    void forkSelected();
    void deleteSelected();
    bool isBusy() const { return !m_doing.isEmpty(); }

    QTreeWidget *list() const { return m_list; }
    QLineEdit *nameEdit() const { return m_name; }
    QCheckBox *stayPausedBox() const { return m_stayPaused; }
    QPushButton *takeButton() const { return m_take; }
    QPushButton *restoreButton() const { return m_restore; }
    QPushButton *forkButton() const { return m_fork; }
    QPushButton *deleteButton() const { return m_delete; }
    // Shown while a snapshot is being taken; stops it (nothing is kept).
    QPushButton *cancelButton() const { return m_cancel; }
    QProgressBar *busyBar() const { return m_busy; }
    QLabel *statusLabel() const { return m_status; }
    QMessageBox *confirmation() const { return m_confirm; }
    QDialog *forkDialog() const { return m_forkDialog; }

Q_SIGNALS:
    // An operation ended; ok false: statusLabel() says why.
    void operationFinished(bool ok);

private:
    void refresh();
    void updateButtons();
    void begin(const QString &doing);
    void finish(bool ok, const QString &message);
    void confirm(const QString &title, const QString &text, const QString &action, std::function<void()> then);

    Vm::VmManager &m_manager;
    QString m_vm;
    QString m_doing; // the operation under way, for people; empty: none
    QTreeWidget *m_list = nullptr;
    QLineEdit *m_name = nullptr;
    QCheckBox *m_stayPaused = nullptr;
    QPushButton *m_take = nullptr;
    QPushButton *m_restore = nullptr;
    QPushButton *m_fork = nullptr;
    QPushButton *m_delete = nullptr;
    QPushButton *m_cancel = nullptr;
    QString m_takingVm; // the VM whose snapshot is being taken
    QProgressBar *m_busy = nullptr;
    QLabel *m_status = nullptr;
    QPointer<QMessageBox> m_confirm;
    QPointer<QDialog> m_forkDialog;
};

} // namespace Gui
