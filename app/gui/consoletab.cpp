#include "app/gui/consoletab.h"

#include "core/vm/vmmanager.h"

#include <QFile>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QFontDatabase>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QTimer>
#include <QVBoxLayout>

namespace Gui {

ConsoleTab::ConsoleTab(Vm::VmManager &manager, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
    , m_decoder(QStringConverter::Utf8)
{
    m_view = new QPlainTextEdit(this);
    m_view->setReadOnly(true);
    m_view->setMaximumBlockCount(kMaxLines);
    m_view->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_view->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_view->setPlaceholderText(tr("The serial console of the selected VM appears here."));
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_view);

    m_watcher = new QFileSystemWatcher(this);
    connect(m_watcher, &QFileSystemWatcher::fileChanged, this, &ConsoleTab::readMore);
    m_poll = new QTimer(this);
    m_poll->setInterval(kPollMs);
    connect(m_poll, &QTimer::timeout, this, &ConsoleTab::readMore);
    // A VM deleted and made again under the same name starts a new log.
    connect(&m_manager, &Vm::VmManager::vmAdded, this, [this](const QString &name) {
        if (name == m_vm)
            restart();
    });
}

ConsoleTab::~ConsoleTab() = default;

void ConsoleTab::setVm(const QString &name)
{
    if (name == m_vm)
        return;
    m_vm = name;
    restart();
}

void ConsoleTab::restart()
{
    if (!m_watcher->files().isEmpty())
        m_watcher->removePaths(m_watcher->files());
    m_view->clear();
    m_offset = 0;
    m_decoder.resetState();
    m_path = m_vm.isEmpty() ? QString() : m_manager.consoleLogPath(m_vm);
    if (m_path.isEmpty()) {
        m_poll->stop();
        return;
    }
    const qint64 size = QFileInfo(m_path).size();
    m_offset = qMax<qint64>(0, size - kTailBytes);
    watch();
    readMore();
    m_poll->start();
}

void ConsoleTab::watch()
{
    if (m_watcher->files().isEmpty() && QFile::exists(m_path))
        m_watcher->addPath(m_path);
}

void ConsoleTab::readMore()
{
    if (m_path.isEmpty())
        return;
    watch();
    QFile f(m_path);
    if (!f.open(QIODevice::ReadOnly))
        return;
    if (f.size() < m_offset) { // truncated or made anew
        m_view->clear();
        m_offset = 0;
        m_decoder.resetState();
    }
    if (f.size() == m_offset || !f.seek(m_offset))
        return;
    const QByteArray bytes = f.read(kReadChunk);
    m_offset += bytes.size();
    QString text = m_decoder.decode(bytes);
    text.remove(QLatin1Char('\r'));
    if (text.isEmpty())
        return;
    QScrollBar *bar = m_view->verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    QTextCursor cursor(m_view->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(text);
    if (atEnd)
        bar->setValue(bar->maximum());
    if (f.size() > m_offset)
        QTimer::singleShot(0, this, &ConsoleTab::readMore); // the rest, without holding the loop
}

} // namespace Gui
