#pragma once
// Gui::FilesTab: upload a local file to a guest path and download a guest
// file to a local path through the guest agent, with a progress bar.

#include <QPointer>
#include <QWidget>

#include <memory>

class QFileDevice;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTimer;

namespace Vm {
class VmManager;
}

namespace Gui {

class FilesTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FilesTab)
public:
    static constexpr int kProgressMs = 100;

    // The manager must outlive the tab.
    explicit FilesTab(Vm::VmManager &manager, QWidget *parent = nullptr);
    ~FilesTab() override;

    void setVm(const QString &name);
    QString vm() const { return m_vm; }

    // Start a transfer with the paths in the fields (as the buttons do).
    void upload();
    void download();
    bool isBusy() const { return m_busy; }
    // Stop the transfer: the guest drops a partial upload, a partial
    // download is not saved.
    void cancel();
    QPushButton *cancelButton() const { return m_cancel; }

    QLineEdit *uploadLocalEdit() const { return m_upLocal; }
    QLineEdit *uploadGuestEdit() const { return m_upGuest; }
    QLineEdit *downloadGuestEdit() const { return m_downGuest; }
    QLineEdit *downloadLocalEdit() const { return m_downLocal; }
    QProgressBar *progressBar() const { return m_progress; }
    QLabel *statusLabel() const { return m_status; }

Q_SIGNALS:
    void transferFinished(bool ok); // the status label says how

private:
    // The device the agent uses for file: it fails reads and writes once
    // the transfer is cancelled, which makes the agent client cancel it.
    std::shared_ptr<QIODevice> begin(std::shared_ptr<QFileDevice> file, qint64 total, bool isUpload);
    void finish(bool ok, const QString &message);
    void updateProgress();
    void updateButtons();

    Vm::VmManager &m_manager;
    QString m_vm;
    bool m_busy = false;
    std::shared_ptr<QFileDevice> m_file; // the local side of the transfer
    std::shared_ptr<QIODevice> m_gate; // what the agent reads or writes: m_file until cancelled
    qint64 m_total = 0;
    bool m_isUpload = false;
    QLineEdit *m_upLocal = nullptr;
    QLineEdit *m_upGuest = nullptr;
    QPushButton *m_upBrowse = nullptr;
    QPushButton *m_upStart = nullptr;
    QLineEdit *m_downGuest = nullptr;
    QLineEdit *m_downLocal = nullptr;
    QPushButton *m_downBrowse = nullptr;
    QPushButton *m_downStart = nullptr;
    QProgressBar *m_progress = nullptr;
    QPushButton *m_cancel = nullptr;
    bool m_cancelled = false;
    QLabel *m_status = nullptr;
    QTimer *m_timer = nullptr;
};

} // namespace Gui
