#include "app/gui/runtab.h"

#include "core/agent/agentclient.h"
#include "core/code/coderunner.h"
#include "core/vm/vmmanager.h"

#include <QComboBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTextCharFormat>
#include <QVBoxLayout>

namespace Gui {

RunTab::RunTab(Vm::VmManager &manager, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
{
    m_language = new QComboBox(this);
    m_language->setToolTip(tr("Language"));
    m_language->addItem(tr("Shell command"), QString());
    m_language->addItem(QStringLiteral("Python"), QStringLiteral("python"));
    m_language->addItem(QStringLiteral("JavaScript"), QStringLiteral("javascript"));
    m_language->addItem(QStringLiteral("Bash"), QStringLiteral("bash"));
    m_command = new QLineEdit(this);
    updatePlaceholder();
    m_run = new QPushButton(tr("&Run"), this);
    m_cancel = new QPushButton(tr("&Cancel"), this);
    m_cancel->setEnabled(false);
    m_output = new QPlainTextEdit(this);
    m_output->setReadOnly(true);
    m_output->setMaximumBlockCount(kMaxLines);
    m_output->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_status = new QLabel(this);
    m_status->setTextFormat(Qt::PlainText); // may show a guest's text: never rich text
    m_status->setWordWrap(true);

    auto *line = new QHBoxLayout;
    line->addWidget(m_language);
    line->addWidget(m_command, 1);
    line->addWidget(m_run);
    line->addWidget(m_cancel);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(line);
    layout->addWidget(m_output, 1);
    layout->addWidget(m_status);

    connect(m_language, &QComboBox::currentIndexChanged, this, &RunTab::updatePlaceholder);
    connect(m_command, &QLineEdit::returnPressed, this, &RunTab::run);
    connect(m_run, &QPushButton::clicked, this, &RunTab::run);
    connect(m_cancel, &QPushButton::clicked, this, [this]() {
        if (m_handle)
            m_handle->cancel();
    });
    setRunning(false);
}

RunTab::~RunTab()
{
    if (m_handle) {
        m_handle->disconnect(this);
        m_handle->cancel();
        m_handle->deleteLater();
    }
}

void RunTab::setVm(const QString &name)
{
    if (name == m_vm)
        return;
    // A command keeps running in its VM; its output no longer shows here.
    if (m_handle)
        m_handle->disconnect(this);
    m_handle = nullptr;
    m_codeRunning = false; // its answer is dropped (m_codeRun moves on)
    ++m_codeRun;
    m_vm = name;
    m_output->clear();
    m_status->clear();
    setRunning(false);
}

void RunTab::setRunning(bool running)
{
    m_run->setEnabled(!running && !m_vm.isEmpty());
    m_cancel->setEnabled(running);
}

void RunTab::updatePlaceholder()
{
    const QString language = m_language->currentData().toString();
    if (language == QLatin1String("python"))
        m_command->setPlaceholderText(tr("Python code, kept in the session \"gui\", e.g. x = 6 * 7"));
    else if (language == QLatin1String("javascript"))
        m_command->setPlaceholderText(tr("JavaScript code, e.g. [1, 2].map(x => x * 2)"));
    else if (language == QLatin1String("bash"))
        m_command->setPlaceholderText(tr("Bash code, e.g. echo $BASH_VERSION"));
    else
        m_command->setPlaceholderText(tr("A shell command, e.g. uname -a"));
}

void RunTab::run()
{
    const QString command = m_command->text().trimmed();
    if (m_vm.isEmpty() || command.isEmpty() || isRunning())
        return;
    const QString language = m_language->currentData().toString();
    if (language.isEmpty())
        runCommand(command);
    else
        runCode(language, command);
}

void RunTab::runCode(const QString &language, const QString &code)
{
    auto agent = m_manager.agent(m_vm);
    if (!agent) {
        m_status->setText(agent.error().message);
        Q_EMIT commandFinished();
        return;
    }
    Code::CodeRequest request;
    request.language = Code::languageFromName(language).value_or(Code::Language::Python);
    request.code = code;
    if (request.language == Code::Language::Python)
        request.session = QLatin1String(kCodeSession);
    auto checked = Code::CodeRunner::checkRequest(request);
    if (!checked) {
        m_status->setText(checked.error().message);
        Q_EMIT commandFinished();
        return;
    }
    m_output->clear();
    m_status->setText(tr("Running…"));
    m_codeRunning = true;
    const quint64 run = ++m_codeRun;
    setRunning(true);
    m_cancel->setEnabled(false); // a run ends at its timeout; its kernel keeps the session
    Core::whenDone(Code::CodeRunner::execute(**agent, *checked), this, [this, run](const Core::Expected<Code::CodeResult> &r) {
        if (run != m_codeRun)
            return; // another VM was selected meanwhile
        m_codeRunning = false;
        setRunning(false);
        if (!r)
            m_status->setText(tr("Failed: %1").arg(r.error().message));
        else
            showCodeResult(*r);
        Q_EMIT commandFinished();
    });
}

void RunTab::showCodeResult(const Code::CodeResult &r)
{
    appendText(r.stdoutText, false);
    appendText(r.stderrText, true);
    if (r.result)
        appendText(*r.result + QLatin1Char('\n'), false);
    for (const Code::CodeOutput &o : r.outputs) {
        const QString size = o.width && o.height ? QStringLiteral(" %1×%2").arg(*o.width).arg(*o.height) : QString();
        appendText(QStringLiteral("[%1%2]\n").arg(o.type, size), false);
    }
    if (r.error)
        appendText(r.error->traceback.join(QLatin1Char('\n')) + QStringLiteral("\n%1: %2\n").arg(r.error->name, r.error->value), true);
    const double seconds = static_cast<double>(r.durationMs) / 1000.0;
    if (r.timedOut)
        m_status->setText(tr("Timed out after %1 s").arg(seconds, 0, 'f', 2));
    else if (r.error)
        m_status->setText(tr("Finished with an error after %1 s").arg(seconds, 0, 'f', 2));
    else
        m_status->setText(tr("Finished after %1 s").arg(seconds, 0, 'f', 2));
}

void RunTab::runCommand(const QString &command)
{
    auto agent = m_manager.agent(m_vm);
    if (!agent) {
        m_status->setText(agent.error().message);
        Q_EMIT commandFinished();
        return;
    }
    m_output->clear();
    m_outDecoder.resetState();
    m_errDecoder.resetState();
    m_status->setText(tr("Running…"));
    Agent::ExecRequest request;
    request.shell = command;
    request.collectOutput = false;
    Agent::ExecHandle *handle = (*agent)->exec(request);
    m_handle = handle;
    setRunning(true);
    connect(handle, &Agent::ExecHandle::stdoutReceived, this, [this](const QByteArray &d) { append(d, false); });
    connect(handle, &Agent::ExecHandle::stderrReceived, this, [this](const QByteArray &d) { append(d, true); });
    const QPointer<Agent::ExecHandle> guard = handle;
    Core::whenDone(handle->result(), this, [this, guard](const Core::Expected<Agent::ExecResult> &r) {
        if (guard)
            guard->deleteLater();
        if (guard != m_handle)
            return; // another VM was selected meanwhile
        m_handle = nullptr;
        setRunning(false);
        if (!r) {
            m_status->setText(tr("Failed: %1").arg(r.error().message));
        } else {
            const double seconds = static_cast<double>(r->durationUs) / 1e6;
            if (r->timedOut)
                m_status->setText(tr("Timed out after %1 s").arg(seconds, 0, 'f', 2));
            else if (r->signal != 0)
                m_status->setText(tr("Killed by signal %1 after %2 s").arg(r->signal).arg(seconds, 0, 'f', 2));
            else
                m_status->setText(tr("Exited with code %1 after %2 s").arg(r->exitCode).arg(seconds, 0, 'f', 2));
        }
        Q_EMIT commandFinished();
    });
}

void RunTab::appendText(const QString &text, bool isStderr)
{
    if (text.isEmpty())
        return;
    QTextCursor cursor(m_output->document());
    cursor.movePosition(QTextCursor::End);
    QTextCharFormat format;
    if (isStderr)
        format.setForeground(Qt::darkRed);
    cursor.insertText(text, format);
}

void RunTab::append(const QByteArray &bytes, bool isStderr)
{
    QScrollBar *bar = m_output->verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    QTextCursor cursor(m_output->document());
    cursor.movePosition(QTextCursor::End);
    QTextCharFormat format;
    if (isStderr)
        format.setForeground(Qt::darkRed);
    cursor.insertText(isStderr ? m_errDecoder.decode(bytes) : m_outDecoder.decode(bytes), format);
    if (atEnd)
        bar->setValue(bar->maximum());
}

} // namespace Gui
