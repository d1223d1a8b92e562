#include "app/gui/runtab.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"

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
    m_command = new QLineEdit(this);
    m_command->setPlaceholderText(tr("A shell command, e.g. uname -a"));
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
    line->addWidget(m_command, 1);
    line->addWidget(m_run);
    line->addWidget(m_cancel);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(line);
    layout->addWidget(m_output, 1);
    layout->addWidget(m_status);

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

void RunTab::run()
{
    const QString command = m_command->text().trimmed();
    if (m_vm.isEmpty() || command.isEmpty() || m_handle)
        return;
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
