#pragma once
// Gui::RunTab: run a shell command in the selected VM through its guest
// agent; stdout and stderr stream into the view as they come, then the exit
// status is shown.

#include <QPointer>
#include <QStringDecoder>
#include <QWidget>

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace Agent {
class ExecHandle;
}
namespace Vm {
class VmManager;
}

namespace Gui {

class RunTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunTab)
public:
    static constexpr int kMaxLines = 20000;

    // The manager must outlive the tab.
    explicit RunTab(Vm::VmManager &manager, QWidget *parent = nullptr);
    ~RunTab() override;

    void setVm(const QString &name);
    QString vm() const { return m_vm; }

    // Run the command line (as the Run button does).
    void run();
    bool isRunning() const { return !m_handle.isNull(); }

    QLineEdit *commandEdit() const { return m_command; }
    QPushButton *runButton() const { return m_run; }
    QPlainTextEdit *output() const { return m_output; }
    QLabel *statusLabel() const { return m_status; }

Q_SIGNALS:
    void commandFinished(); // for tests: the status label says how

private:
    void append(const QByteArray &bytes, bool isStderr);
    void setRunning(bool running);

    Vm::VmManager &m_manager;
    QString m_vm;
    QPointer<Agent::ExecHandle> m_handle;
    QLineEdit *m_command = nullptr;
    QPushButton *m_run = nullptr;
    QPushButton *m_cancel = nullptr;
    QPlainTextEdit *m_output = nullptr;
    QLabel *m_status = nullptr;
    QStringDecoder m_outDecoder{QStringConverter::Utf8}; // output may split a character
    QStringDecoder m_errDecoder{QStringConverter::Utf8};
};

} // namespace Gui
