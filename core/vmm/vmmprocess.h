#pragma once

#include "core/async.h"
#include "core/vmm/vmmcredentials.h"

#include <QObject>
#include <QProcess>

#include <optional>

class QSocketNotifier;

namespace Vmm {

// Process lifecycle shared by the VMM drivers: spawn with a parent-death
// signal (a crashed manager never leaves a VMM behind) and a clean
// environment (vmmEnvironment), capture the VMM's own
// output to a log file, report an unexpected exit, kill and reap.
//
// A persistent VMM (setPersistent) is instead started detached: its own
// session, no parent-death signal, not our child. It is watched through a
// pidfd, like a VMM adopted from an earlier process (adopt()), so release()
// can leave it running past this object. Its exit status is not known.
class VmmProcess final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmmProcess)
public:
    // How long kill() waits for the kernel to reap a SIGKILLed child (or, for
    // a persistent or adopted VMM, for its pidfd to report the exit).
    static constexpr int kReapTimeoutMs = 3000;

    VmmProcess(QString program, QStringList arguments, QString outputLogPath, QObject *parent = nullptr);
    ~VmmProcess() override;

    // File descriptors the child inherits (FD_CLOEXEC cleared in the child).
    void setInheritedFds(QList<int> fds) { m_inheritedFds = std::move(fds); }
    // Before start(): the user the VMM runs as (vmmCredentials()); nothing:
    // this process's. Dropped in the child before exec: groups, gid, uid.
    void setCredentials(std::optional<VmmCredentials> credentials) { m_credentials = std::move(credentials); }
    // Before start(): start detached so the VMM may outlive this process.
    void setPersistent(bool persistent) { m_persistent = persistent; }
    // Persistent or adopted: watched by pidfd, may be release()d.
    bool isPersistent() const { return m_watched || m_persistent; }
    // Watch a VMM that runs already and is not our child (left running by an
    // earlier process). It must still be `pid` started at `startTime`
    // (/proc/<pid>/stat field 22): checked after the pidfd is open, so a
    // reused pid is never taken. Instead of start().
    Core::Result adopt(qint64 pid, quint64 startTime);
    // Stop watching a persistent or adopted VMM and leave it running. Later
    // kill() calls do nothing.
    Core::Result release();
    // The process's start time (/proc/<pid>/stat field 22); 0 when unknown.
    quint64 startTime() const { return m_startTime; }

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
    Core::Future<void> startDetached();
    Core::Result watchPid(qint64 pid, std::optional<quint64> expectedStartTime);
    void onPidfdReadable();
    void closePidfd();

    QString m_program;
    QStringList m_arguments;
    QString m_outputLogPath;
    QList<int> m_inheritedFds;
    std::optional<VmmCredentials> m_credentials;
    QProcess *m_process = nullptr;
    bool m_finished = false;
    // Persistent or adopted VMMs.
    bool m_persistent = false;
    bool m_released = false;
    qint64 m_pid = 0;
    quint64 m_startTime = 0;
    int m_pidfd = -1;
    bool m_watched = false; // by pidfd (persistent or adopted), even once it closed
    QSocketNotifier *m_pidNotifier = nullptr;
};

// Before start(): the child becomes `credentials` (when given), dies with
// this process (PR_SET_PDEATHSIG, set after the uid change, which clears it;
// also if this process died before the child got that far), leads its own
// process group (a terminal's Ctrl-C reaches only us; kill(-pid) reaches all
// it spawned) and inherits `inheritedFds` (FD_CLOEXEC cleared in the child).
void bindChildToParent(QProcess &process, const QList<int> &inheritedFds = {}, const std::optional<VmmCredentials> &credentials = std::nullopt);

// The exit code of a child that could not take on its credentials.
inline constexpr int kCredentialsFailedExit = 126;

// What a VMM's environment holds: a fixed PATH and the C.UTF-8 locale,
// nothing of this process's (no MVS_TOKEN, no HOME, no XDG_* paths).
QProcessEnvironment vmmEnvironment();
inline constexpr char kVmmPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Absolute path of an executable: `name` itself if it contains a slash and is
// executable, else searched on PATH. Empty when not found.
QString findExecutable(const QString &name);

} // namespace Vmm
