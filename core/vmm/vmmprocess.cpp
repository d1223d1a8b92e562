#include "core/vmm/vmmprocess.h"

#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
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
}

Core::Future<void> VmmProcess::start()
{
    Core::Promise<void> promise;
    if (m_process) {
        promise.fail(Core::ErrorCode::InvalidState, QStringLiteral("the VMM process was already started"));
        return promise.future();
    }
    m_process = new QProcess(this);
    m_process->setProgram(m_program);
    m_process->setArguments(m_arguments);
    m_process->setStandardInputFile(QProcess::nullDevice());
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    if (!m_outputLogPath.isEmpty())
        m_process->setStandardOutputFile(m_outputLogPath, QIODevice::Append);
    else
        m_process->setStandardOutputFile(QProcess::nullDevice());

    const QList<int> fds = m_inheritedFds;
    const pid_t parentPid = ::getpid();
    m_process->setChildProcessModifier([fds, parentPid]() {
        // Runs in the child between fork and exec: async-signal-safe calls only.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parentPid)
            ::_exit(127); // the parent died before prctl took effect
        for (int fd : fds) {
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0)
                ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        ::setpgid(0, 0); // own process group: a terminal Ctrl-C reaches only us
    });

    connect(m_process, &QProcess::started, this, [promise]() { promise.resolve({}); });
    connect(m_process, &QProcess::errorOccurred, this, [this, promise](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            m_finished = true;
            promise.fail(Core::ErrorCode::BinaryMissing,
                         QStringLiteral("cannot run %1: %2").arg(m_program, m_process->errorString()));
        }
    });
    connect(m_process, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus status) {
        m_finished = true;
        Q_EMIT finished(exitCode, status == QProcess::CrashExit);
    });
    m_process->start();
    return promise.future();
}

bool VmmProcess::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

qint64 VmmProcess::pid() const
{
    return m_process ? m_process->processId() : 0;
}

void VmmProcess::kill()
{
    if (!m_process || m_process->state() == QProcess::NotRunning)
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

QString findExecutable(const QString &name)
{
    if (name.contains(QLatin1Char('/'))) {
        const QFileInfo fi(name);
        return fi.isFile() && fi.isExecutable() ? fi.absoluteFilePath() : QString();
    }
    return QStandardPaths::findExecutable(name);
}

} // namespace Vmm
