#pragma once

#include "core/async.h"

#include <QList>
#include <QObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>

#include <memory>

namespace Vmm {

// Whether this QEMU boots a real guest kernel under KVM. Some nested hosts
// pass every vCPU test (kvmStatus) and still hang a real kernel, so the probe
// boots the guest kernel with no root filesystem: a working host reaches
// "VFS: Unable to mount root fs", panics and (panic=-1, -no-reboot) QEMU exits
// within a second. Anything else within the timeout means TCG.
//
// One probe, one verdict: whatever order QEMU's exit, its start failure and
// the timeout arrive in, the verdict is reached exactly once, before anything
// that could re-enter (killing QEMU, resolving waiters). Nothing blocks: a
// probe that times out sends SIGKILL to QEMU's process group and is done once
// the exit is reported. The probe owns its QEMU (a child that dies with this
// process) and its temporary directory (under workDir), and removes both.
class KvmBootProbe final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(KvmBootProbe)
public:
    // Where the guest kernel gets to reach its root-mount panic (well under a
    // second where KVM works).
    static constexpr int kDefaultTimeoutMs = 8000;
    // How much of QEMU's own output and of the guest's serial log is read.
    static constexpr qint64 kMaxLogBytes = 64 * 1024;

    struct Verdict {
        bool kvm = false;
        QString reason; // why not KVM, for a person; empty when kvm
    };

    KvmBootProbe(QString binary, QString kernelPath, QString workDir, int timeoutMs = kDefaultTimeoutMs, QObject *parent = nullptr);
    ~KvmBootProbe() override;

    // QEMU's arguments for the probe (pure).
    static QStringList arguments(const QString &kernelPath, const QString &serialLogPath);

    // Starts QEMU; once only.
    void start();
    // The verdict, for each caller its own future (a QFuture runs one
    // continuation only). Resolved with Cancelled if the probe is destroyed
    // before it has one.
    Core::Future<Verdict> verdict();
    bool hasVerdict() const { return m_concluded; }
    // The verdict is reached and QEMU and the temporary directory are gone.
    bool isDone() const { return m_concluded && !m_processAlive; }

Q_SIGNALS:
    // Emitted once, when isDone() turns true.
    void done();

private:
    void onProcessFinished(int exitCode, QProcess::ExitStatus status);
    void onProcessError(QProcess::ProcessError error);
    void onTimeout();
    Verdict verdictFromExit(int exitCode, QProcess::ExitStatus status);
    void conclude(Verdict verdict);
    void killProcessGroup();
    void finishIfDone();

    QString m_binary;
    QString m_kernelPath;
    QString m_workDir;
    int m_timeoutMs;
    std::unique_ptr<QTemporaryDir> m_dir;
    QProcess *m_process = nullptr;
    QTimer m_timer;
    bool m_started = false;
    bool m_processAlive = false;
    bool m_concluded = false;
    bool m_doneEmitted = false;
    Verdict m_verdict;
    QList<Core::Promise<Verdict>> m_waiters;
};

} // namespace Vmm
