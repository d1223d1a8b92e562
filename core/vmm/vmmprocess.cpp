#include "core/vmm/vmmprocess.h"

#include "core/vmm/detachedvmm.h"

#include <QFile>
#include <QFileInfo>
#include <QSocketNotifier>
#include <QStandardPaths>
#include <QTimer>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace Vmm {

VmmProcess::VmmProcess(QString program, QStringList arguments, QString outputLogPath, QObject *parent)
    : QObject(parent)
    , m_program(std::move(program))
    , m_arguments(std::move(arguments))
    , m_outputLogPath(std::move(outputLogPath))
{
}

VmmProcess::~VmmProcess()
{
    kill();
    closePidfd();
}

Core::Future<void> VmmProcess::start()
{
    Core::Promise<void> promise;
    if (m_process) {
        promise.fail(Core::ErrorCode::InvalidState, QStringLiteral("the VMM process was already started"));
        return promise.future();
    }
    if (m_persistent)
        return startDetached();
    m_process = new QProcess(this);
    m_process->setProgram(m_program);
    m_process->setArguments(m_arguments);
    m_process->setProcessEnvironment(vmmEnvironment());
    m_process->setStandardInputFile(QProcess::nullDevice());
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    if (!m_outputLogPath.isEmpty())
        m_process->setStandardOutputFile(m_outputLogPath, QIODevice::Append);
    else
        m_process->setStandardOutputFile(QProcess::nullDevice());

    bindChildToParent(*m_process, m_inheritedFds);

    connect(m_process, &QProcess::started, this, [promise]() { promise.resolve({}); });
    connect(m_process, &QProcess::errorOccurred, this, [this, promise](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            m_finished = true;
            promise.fail(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot run %1: %2").arg(m_program, m_process->errorString()));
        }
    });
    connect(m_process, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus status) {
        m_finished = true;
        Q_EMIT finished(exitCode, status == QProcess::CrashExit);
    });
    m_process->start();
    return promise.future();
}

Core::Future<void> VmmProcess::startDetached()
{
    if (m_pid > 0 || m_pidfd >= 0)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VMM process was already started")));
    // QProcess::startDetached double-forks and starts a new session: the VMM
    // is not our child, gets no parent-death signal and no terminal Ctrl-C.
    QProcess p;
    p.setProgram(m_program);
    p.setArguments(m_arguments);
    p.setProcessEnvironment(vmmEnvironment());
    p.setStandardInputFile(QProcess::nullDevice());
    const QString log = m_outputLogPath.isEmpty() ? QProcess::nullDevice() : m_outputLogPath;
    p.setStandardOutputFile(log, QIODevice::Append);
    p.setStandardErrorFile(log, QIODevice::Append);
    qint64 pid = 0;
    if (!p.startDetached(&pid) || pid <= 0) {
        m_finished = true;
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot run %1: %2").arg(m_program, p.errorString())));
    }
    m_pid = pid;
    if (auto ok = watchPid(pid, std::nullopt); !ok) {
        // Gone already (it failed right after exec): report it as an exit,
        // after start() resolved, like a QProcess child.
        m_finished = true;
        QTimer::singleShot(0, this, [this]() { Q_EMIT finished(-1, false); });
    }
    return Core::readyFuture();
}

Core::Result VmmProcess::adopt(qint64 pid, quint64 startTime)
{
    if (m_process || m_pid > 0 || m_pidfd >= 0)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VMM process was already started"));
    if (auto ok = watchPid(pid, startTime); !ok)
        return ok;
    m_pid = pid;
    return {};
}

Core::Result VmmProcess::watchPid(qint64 pid, std::optional<quint64> expectedStartTime)
{
    // pidfd_open (Linux >= 5.3): the descriptor names this very process, and
    // turns readable when it exits; it never refers to a later process that
    // reuses the pid.
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
    if (fd < 0) {
        const int err = errno;
        return Core::Error(err == ESRCH ? Core::ErrorCode::NotFound : Core::ErrorCode::Io,
                           QStringLiteral("cannot watch process %1: %2").arg(pid).arg(QString::fromLocal8Bit(std::strerror(err))));
    }
    // Checked with the pidfd open: if the pid still has that start time now,
    // the pidfd is that process.
    const auto start = processStartTime(pid);
    if (!start || (expectedStartTime && *start != *expectedStartTime)) {
        ::close(fd);
        return Core::Error(Core::ErrorCode::NotFound,
                           start ? QStringLiteral("pid %1 belongs to another process now").arg(pid) : QStringLiteral("process %1 is gone").arg(pid));
    }
    m_pidfd = fd;
    m_watched = true;
    m_startTime = *start;
    m_pidNotifier = new QSocketNotifier(fd, QSocketNotifier::Read, this);
    connect(m_pidNotifier, &QSocketNotifier::activated, this, &VmmProcess::onPidfdReadable);
    return {};
}

void VmmProcess::onPidfdReadable()
{
    closePidfd();
    if (m_finished || m_released)
        return;
    m_finished = true;
    // Not our child: the exit status is the reaper's.
    Q_EMIT finished(-1, false);
}

void VmmProcess::closePidfd()
{
    if (m_pidNotifier) {
        m_pidNotifier->setEnabled(false);
        delete m_pidNotifier;
        m_pidNotifier = nullptr;
    }
    if (m_pidfd >= 0) {
        ::close(m_pidfd);
        m_pidfd = -1;
    }
}

Core::Result VmmProcess::release()
{
    if (m_process)
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("the VMM was started as a child of this process and cannot outlive it (not persistent)"));
    if (m_pidfd < 0)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VMM process is not running"));
    closePidfd();
    m_released = true;
    return {};
}

bool VmmProcess::isRunning() const
{
    if (!m_process)
        return m_pid > 0 && m_pidfd >= 0 && !m_finished && !m_released;
    return m_process->state() != QProcess::NotRunning;
}

qint64 VmmProcess::pid() const
{
    return m_process ? m_process->processId() : m_pid;
}

void VmmProcess::kill()
{
    if (!m_process) {
        if (m_pidfd < 0 || m_finished || m_released)
            return;
        // pidfd_send_signal (Linux >= 5.1) cannot hit a process that reused the pid.
        ::syscall(SYS_pidfd_send_signal, m_pidfd, SIGKILL, nullptr, 0);
        // Not our child, so nothing to reap: wait until it has exited (the
        // pidfd turns readable), bounded like the reap below.
        pollfd pfd{m_pidfd, POLLIN, 0};
        while (::poll(&pfd, 1, kReapTimeoutMs) < 0 && errno == EINTR) {
        }
        closePidfd();
        m_finished = true;
        Q_EMIT finished(-1, true);
        return;
    }
    if (m_process->state() == QProcess::NotRunning)
        return;
    m_process->kill();
    // A SIGKILLed child is reaped within milliseconds; the bound only guards
    // against a process stuck in uninterruptible sleep.
    m_process->waitForFinished(kReapTimeoutMs);
}

QString VmmProcess::outputTail(int maxLines) const
{
    QFile f(m_outputLogPath);
    if (m_outputLogPath.isEmpty() || !f.open(QIODevice::ReadOnly))
        return {};
    const qint64 size = f.size();
    f.seek(qMax<qint64>(0, size - 4096));
    QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    if (lines.size() > maxLines)
        lines = lines.mid(lines.size() - maxLines);
    return lines.join(QStringLiteral(" | "));
}

void bindChildToParent(QProcess &process, const QList<int> &inheritedFds)
{
    const pid_t parentPid = ::getpid();
    process.setChildProcessModifier([fds = inheritedFds, parentPid]() {
        // Runs in the child between fork and exec: async-signal-safe calls only.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parentPid)
            ::_exit(127); // the parent died before prctl took effect
        for (int fd : fds) {
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0)
                ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        ::setpgid(0, 0);
    });
}

QProcessEnvironment vmmEnvironment()
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("PATH"), QString::fromLatin1(kVmmPath));
    env.insert(QStringLiteral("LANG"), QStringLiteral("C.UTF-8"));
    return env;
}

QString findExecutable(const QString &name)
{
    if (name.contains(QLatin1Char('/'))) {
        const QFileInfo fi(name);
        return fi.isFile() && fi.isExecutable() ? fi.absoluteFilePath() : QString();
    }
    return QStandardPaths::findExecutable(name);
}

} // namespace Vmm
