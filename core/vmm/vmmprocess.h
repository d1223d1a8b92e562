#pragma once

#include "core/async.h"

#include <QObject>
#include <QProcess>

namespace Vmm {

// Process lifecycle shared by the VMM drivers: spawn with a parent-death
// signal (a crashed manager never leaves a VMM behind), capture the VMM's own
// output to a log file, report an unexpected exit, kill and reap.
class VmmProcess final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmmProcess)
public:
    // How long kill() waits for the kernel to reap a SIGKILLed child.
    static constexpr int kReapTimeoutMs = 3000;

    VmmProcess(QString program, QStringList arguments, QString outputLogPath, QObject *parent = nullptr);
    ~VmmProcess() override;

    // File descriptors the child inherits (FD_CLOEXEC cleared in the child).
    void setInheritedFds(QList<int> fds) { m_inheritedFds = std::move(fds); }

    // Resolves when the process runs; BinaryMissing when it cannot be executed.
    Core::Future<void> start();
    bool isRunning() const;
    qint64 pid() const;
    QString program() const { return m_program; }
    QStringList arguments() const { return m_arguments; }

    // SIGKILL, then reap (bounded by kReapTimeoutMs). Idempotent.
    void kill();
    // Last lines the VMM wrote to stdout/stderr, for error messages.
    QString outputTail(int maxLines = 8) const;

Q_SIGNALS:
    // The process ended (whoever ended it). crashed: killed by a signal.
    void finished(int exitCode, bool crashed);

private:
    QString m_program;
    QStringList m_arguments;
    QString m_outputLogPath;
    QList<int> m_inheritedFds;
    QProcess *m_process = nullptr;
    bool m_finished = false;
};

// Absolute path of an executable: `name` itself if it contains a slash and is
// executable, else searched on PATH. Empty when not found.
QString findExecutable(const QString &name);

} // namespace Vmm
