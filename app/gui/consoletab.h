#pragma once
// Gui::ConsoleTab: follows the selected VM's serial console log (the tail
// first, then what is appended), like `tail -f`.

#include <QStringDecoder>
#include <QWidget>

class QFileSystemWatcher;
class QPlainTextEdit;
class QTimer;

namespace Vm {
class VmManager;
}

namespace Gui {

class ConsoleTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConsoleTab)
public:
    static constexpr qint64 kTailBytes = 64 * 1024; // shown when a VM is selected
    static constexpr qint64 kReadChunk = 256 * 1024; // read at most this per update
    static constexpr int kMaxLines = 10000;
    static constexpr int kPollMs = 1000; // besides the watcher (a file made later, missed events)

    // The manager must outlive the tab.
    explicit ConsoleTab(Vm::VmManager &manager, QWidget *parent = nullptr);
    ~ConsoleTab() override;

    void setVm(const QString &name);
    QString vm() const { return m_vm; }
    QPlainTextEdit *view() const { return m_view; }

private:
    void restart();
    void readMore();
    void watch();

    Vm::VmManager &m_manager;
    QString m_vm;
    QString m_path;
    qint64 m_offset = 0;
    QStringDecoder m_decoder;
    QPlainTextEdit *m_view = nullptr;
    QFileSystemWatcher *m_watcher = nullptr;
    QTimer *m_poll = nullptr;
};

} // namespace Gui
