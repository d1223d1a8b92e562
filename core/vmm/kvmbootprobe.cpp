#include "core/vmm/kvmbootprobe.h"

#include "core/log.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>

#include <csignal>

namespace Vmm {

namespace {

// The last `maxBytes` of a file; empty when it cannot be read.
QByteArray fileTail(const QString &path, qint64 maxBytes)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    f.seek(qMax<qint64>(0, f.size() - maxBytes));
    return f.read(maxBytes);
}

QString lastLine(const QByteArray &output)
{
    const QList<QByteArray> lines = output.trimmed().split('\n');
    return QString::fromLocal8Bit(lines.isEmpty() ? QByteArray() : lines.last().trimmed().right(200));
}

} // namespace

KvmBootProbe::KvmBootProbe(QString binary, QString kernelPath, QString workDir, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_binary(std::move(binary))
    , m_kernelPath(std::move(kernelPath))
    , m_workDir(std::move(workDir))
    , m_timeoutMs(timeoutMs)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &KvmBootProbe::onTimeout);
}

KvmBootProbe::~KvmBootProbe()
{
    m_timer.stop();
    if (m_process) {
        m_process->disconnect(this);
        if (m_processAlive) {
            killProcessGroup();
            m_process->waitForFinished(VmmProcess::kReapTimeoutMs); // reaps it; nothing of ours listens any more
        }
        delete m_process;
        m_process = nullptr;
    }
    m_dir.reset();
    const QList<Core::Promise<Verdict>> waiters = std::exchange(m_waiters, {});
    for (const auto &w : waiters)
        w.fail(Core::ErrorCode::Cancelled, QStringLiteral("the KVM boot probe was abandoned"));
}

QStringList KvmBootProbe::arguments(const QString &kernelPath, const QString &serialLogPath)
{
    return {QStringLiteral("-machine"),
            QStringLiteral("q35,accel=kvm"),
            QStringLiteral("-cpu"),
            QStringLiteral("host"),
            QStringLiteral("-m"),
            QStringLiteral("256M"),
            QStringLiteral("-nodefaults"),
            QStringLiteral("-no-user-config"),
            QStringLiteral("-display"),
            QStringLiteral("none"),
            QStringLiteral("-no-reboot"),
            QStringLiteral("-kernel"),
            kernelPath,
            QStringLiteral("-append"),
            QStringLiteral("console=ttyS0 panic=-1 reboot=t"),
            QStringLiteral("-serial"),
            QStringLiteral("file:") + serialLogPath};
}

Core::Future<KvmBootProbe::Verdict> KvmBootProbe::verdict()
{
    if (m_concluded)
        return Core::readyFuture<Verdict>(m_verdict);
    Core::Promise<Verdict> p;
    m_waiters.append(p);
    return p.future();
}

void KvmBootProbe::start()
{
    if (m_started)
        return;
    m_started = true;
    QDir().mkpath(m_workDir);
    m_dir = std::make_unique<QTemporaryDir>(QDir(m_workDir).filePath(QStringLiteral("kvm-boot-XXXXXX")));
    if (!m_dir->isValid()) {
        conclude({false, QStringLiteral("cannot create the probe's directory in %1: %2").arg(m_workDir, m_dir->errorString())});
        finishIfDone();
        return;
    }
    m_process = new QProcess(this);
    m_process->setProgram(m_binary);
    m_process->setArguments(arguments(m_kernelPath, m_dir->filePath(QStringLiteral("serial.log"))));
    m_process->setStandardInputFile(QProcess::nullDevice());
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    m_process->setStandardOutputFile(m_dir->filePath(QStringLiteral("qemu.log")));
    bindChildToParent(*m_process);
    connect(m_process, &QProcess::finished, this, &KvmBootProbe::onProcessFinished);
    connect(m_process, &QProcess::errorOccurred, this, &KvmBootProbe::onProcessError);
    m_processAlive = true;
    m_timer.start(m_timeoutMs);
    m_process->start();
}

void KvmBootProbe::onProcessFinished(int exitCode, QProcess::ExitStatus status)
{
    if (!m_processAlive)
        return;
    m_processAlive = false;
    if (!m_concluded)
        conclude(verdictFromExit(exitCode, status));
    finishIfDone();
}

void KvmBootProbe::onProcessError(QProcess::ProcessError error)
{
    if (error != QProcess::FailedToStart || !m_processAlive)
        return; // a crash is reported by finished() as well
    m_processAlive = false;
    conclude({false, QStringLiteral("QEMU failed to start (%1): %2").arg(m_binary, m_process->errorString())});
    finishIfDone();
}

void KvmBootProbe::onTimeout()
{
    if (m_concluded)
        return;
    conclude({false, QStringLiteral("no kernel boot within %1 ms").arg(m_timeoutMs)});
    // QProcess reports the exit; finishIfDone() runs then.
    killProcessGroup();
}

KvmBootProbe::Verdict KvmBootProbe::verdictFromExit(int exitCode, QProcess::ExitStatus status)
{
    const QByteArray serial = fileTail(m_dir->filePath(QStringLiteral("serial.log")), kMaxLogBytes);
    if (serial.contains("Kernel panic") || serial.contains("VFS:"))
        return {true, QString()};
    const QString how = status == QProcess::CrashExit ? QStringLiteral("killed by a signal") : QStringLiteral("exit code %1").arg(exitCode);
    const QString said = lastLine(fileTail(m_dir->filePath(QStringLiteral("qemu.log")), kMaxLogBytes));
    return {false, QStringLiteral("QEMU ended without the kernel booting (%1)%2").arg(how, said.isEmpty() ? QString() : QStringLiteral(": ") + said)};
}

// The verdict, once: every guard is set before anything that can re-enter
// (waiters' continuations may run synchronously).
void KvmBootProbe::conclude(Verdict verdict)
{
    if (m_concluded)
        return;
    m_concluded = true;
    m_timer.stop();
    m_verdict = std::move(verdict);
    const QList<Core::Promise<Verdict>> waiters = std::exchange(m_waiters, {});
    for (const auto &w : waiters)
        w.resolve(m_verdict);
}

void KvmBootProbe::killProcessGroup()
{
    const qint64 pid = m_process ? m_process->processId() : 0;
    if (pid > 0)
        ::kill(-static_cast<pid_t>(pid), SIGKILL); // QEMU leads its own group (bindChildToParent)
    if (m_process)
        m_process->kill();
}

void KvmBootProbe::finishIfDone()
{
    if (!isDone() || m_doneEmitted)
        return;
    m_doneEmitted = true;
    m_dir.reset();
    Q_EMIT done();
}

} // namespace Vmm
