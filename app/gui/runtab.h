#pragma once
// Gui::RunTab: run a shell command in the selected VM through its guest
// agent; stdout and stderr stream into the view as they come, then the exit
// status is shown. Or run code (the language choice): python in the VM's
// "gui" session (state kept between runs), javascript or bash one-shots,
// through Code::CodeRunner; output, value and error show when it ends.

#include <QPointer>
#include <QStringDecoder>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace Agent {
class ExecHandle;
}
namespace Code {
struct CodeResult;
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
    // The session python code runs in, per VM.
    static constexpr const char *kCodeSession = "gui";

    // The manager must outlive the tab.
    explicit RunTab(Vm::VmManager &manager, QWidget *parent = nullptr);
    ~RunTab() override;

    void setVm(const QString &name);
    QString vm() const { return m_vm; }

    // Run the command line (as the Run button does).
    void run();
    bool isRunning() const { return !m_handle.isNull() || m_codeRunning; }

    QComboBox *languageBox() const { return m_language; }
    QLineEdit *commandEdit() const { return m_command; }
    QPushButton *runButton() const { return m_run; }
    QPlainTextEdit *output() const { return m_output; }
    QLabel *statusLabel() const { return m_status; }

Q_SIGNALS:
    void commandFinished(); // for tests: the status label says how

private:
    void runCommand(const QString &command);
    void runCode(const QString &language, const QString &code);
    void showCodeResult(const Code::CodeResult &result);
    void updatePlaceholder();
    void appendText(const QString &text, bool isStderr);
    void append(const QByteArray &bytes, bool isStderr);
    void setRunning(bool running);

    Vm::VmManager &m_manager;
    QString m_vm;
    QPointer<Agent::ExecHandle> m_handle;
    bool m_codeRunning = false;
    quint64 m_codeRun = 0; // the code run whose answer is awaited
    QComboBox *m_language = nullptr;
    QLineEdit *m_command = nullptr;
    QPushButton *m_run = nullptr;
    QPushButton *m_cancel = nullptr;
    QPlainTextEdit *m_output = nullptr;
    QLabel *m_status = nullptr;
    QStringDecoder m_outDecoder{QStringConverter::Utf8}; // output may split a character
    QStringDecoder m_errDecoder{QStringConverter::Utf8};
};

} // namespace Gui
