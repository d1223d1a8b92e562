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
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace Vmm {

namespace {

// Credentials in the form the child uses between fork and exec, where only
// async-signal-safe calls are allowed (no allocation).
struct ChildCredentials {
    bool drop = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

ChildCredentials childCredentials(const std::optional<VmmCredentials> &credentials)
{
    ChildCredentials c;
    if (!credentials)
        return c;
    c.drop = true;
    c.uid = credentials->uid;
    c.gid = credentials->gid;
    c.groups.assign(credentials->groups.cbegin(), credentials->groups.cend());
    return c;
}

// In the child: groups first, then the gid, then the uid (after which none
// of the others may be changed). Checked: a uid that did not change is a
// failure, never a VMM left running as root.
bool dropCredentials(const ChildCredentials &c)
{
    if (!c.drop)
        return true;
    if (::setgroups(c.groups.size(), c.groups.data()) != 0 || ::setresgid(c.gid, c.gid, c.gid) != 0 || ::setresuid(c.uid, c.uid, c.uid) != 0)
        return false;
    return ::geteuid() == c.uid && ::getuid() == c.uid && ::getegid() == c.gid;
}

void writeToStderr(const char *message)
{
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, message, std::strlen(message));
}

void keepFdsOpen(const QList<int> &fds)
{
    for (int fd : fds) {
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0)
            ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
}

// What went wrong in the detached grandchild before or at exec.
struct ExecFailure {
    int stage = 0; // 1: credentials, 2: exec
    int error = 0;
};

struct ExecArgs {
    std::vector<QByteArray> storage;
    std::vector<char *> argv;
    std::vector<char *> envp;
};

ExecArgs execArgs(const QString &program, const QStringList &arguments)
{
    ExecArgs e;
    e.storage.push_back(QFile::encodeName(program));
    for (const QString &a : arguments)
        e.storage.push_back(a.toLocal8Bit());
    const QStringList env = vmmEnvironment().toStringList();
    for (const QString &v : env)
        e.storage.push_back(v.toLocal8Bit());
    for (size_t i = 0; i < e.storage.size(); ++i)
        (i <= size_t(arguments.size()) ? e.argv : e.envp).push_back(e.storage[i].data());
    e.argv.push_back(nullptr);
    e.envp.push_back(nullptr);
    return e;
}

// The grandchild of a detached start: standard streams, descriptors,
// credentials, exec. Reports a failure on `report` (close-on-exec).
[[noreturn]] void execDetached(const ExecArgs &e, int devNull, int log, int report, const QList<int> &fds, const ChildCredentials &creds)
{
    ::dup2(devNull, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    keepFdsOpen(fds);
    ExecFailure failure;
    if (!dropCredentials(creds)) {
        failure = {1, errno};
    } else {
        ::execve(e.argv[0], e.argv.data(), e.envp.data());
        failure = {2, errno};
    }
    [[maybe_unused]] const ssize_t n = ::write(report, &failure, sizeof failure);
    ::_exit(127);
}

// fork, setsid, fork again (so the VMM is not our child and has no
// controlling terminal), then execDetached. QProcess::startDetached cannot
// drop credentials (Qt 6.4 runs no child modifier there).
Core::Expected<qint64> spawnDetached(const QString &program, const QStringList &arguments, const QString &logPath, const QList<int> &fds,
                                     const std::optional<VmmCredentials> &credentials)
{
    const ExecArgs e = execArgs(program, arguments);
    const ChildCredentials creds = childCredentials(credentials);
    const QByteArray logName = QFile::encodeName(logPath.isEmpty() ? QProcess::nullDevice() : logPath);
    const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int log = ::open(logName.constData(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int pidPipe[2] = {-1, -1}, reportPipe[2] = {-1, -1};
    auto closeAll = [&]() {
        for (int fd : {devNull, log, pidPipe[0], pidPipe[1], reportPipe[0], reportPipe[1]})
            if (fd >= 0)
                ::close(fd);
    };
    if (devNull < 0 || log < 0 || ::pipe2(pidPipe, O_CLOEXEC) != 0 || ::pipe2(reportPipe, O_CLOEXEC) != 0) {
        const int err = errno;
        closeAll();
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot prepare to start %1: %2").arg(program, QString::fromLocal8Bit(std::strerror(err))));
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        const pid_t grandchild = ::fork();
        if (grandchild == 0)
            execDetached(e, devNull, log, reportPipe[1], fds, creds);
        [[maybe_unused]] const ssize_t n = ::write(pidPipe[1], &grandchild, sizeof grandchild);
        ::_exit(0);
    }
    ::close(pidPipe[1]);
    pidPipe[1] = -1;
    ::close(reportPipe[1]);
    reportPipe[1] = -1;
    pid_t pid = -1;
    if (child > 0) {
        while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
        if (::read(pidPipe[0], &pid, sizeof pid) != ssize_t(sizeof pid))
            pid = -1;
    }
    ExecFailure failure;
    ssize_t got = -1;
    while ((got = ::read(reportPipe[0], &failure, sizeof failure)) < 0 && errno == EINTR) {
    }
    closeAll();
    if (pid <= 0)
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot run %1: fork failed").arg(program));
    if (got == ssize_t(sizeof failure)) {
        const QString why = QString::fromLocal8Bit(std::strerror(failure.error));
        if (failure.stage == 1)
            return Core::Error(Core::ErrorCode::PermissionDenied, QStringLiteral("cannot run %1 as %2: %3").arg(program, credentials->user, why));
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot run %1: %2").arg(program, why));
    }
    return qint64(pid);
}

} // namespace

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

    bindChildToParent(*m_process, m_inheritedFds, m_credentials);

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
    // Its own session, no parent-death signal, not our child.
    const auto pid = spawnDetached(m_program, m_arguments, m_outputLogPath, m_inheritedFds, m_credentials);
    if (!pid) {
        m_finished = true;
        return Core::readyFuture<void>(pid.error());
    }
    m_pid = *pid;
    if (auto ok = watchPid(m_pid, std::nullopt); !ok) {
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

void bindChildToParent(QProcess &process, const QList<int> &inheritedFds, const std::optional<VmmCredentials> &credentials)
{
    const pid_t parentPid = ::getpid();
    process.setChildProcessModifier([fds = inheritedFds, parentPid, creds = childCredentials(credentials)]() {
        // Runs in the child between fork and exec: async-signal-safe calls only.
        if (!dropCredentials(creds)) {
            writeToStderr("cannot switch to the VMM user's uid and groups\n");
            ::_exit(kCredentialsFailedExit);
        }
        // After the uid change, which clears the parent-death signal.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parentPid)
            ::_exit(127); // the parent died before prctl took effect
        keepFdsOpen(fds);
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
