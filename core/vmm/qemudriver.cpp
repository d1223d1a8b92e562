#include "core/vmm/qemudriver.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemuinstance.h"
#include "core/vmm/vmmprocess.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSaveFile>
#include <QTemporaryDir>
#include <QTimer>

namespace Vmm {

QemuDriver::QemuDriver(QString binary, QString accel)
    : m_binary(binary.isEmpty() ? QStringLiteral("qemu-system-x86_64") : std::move(binary))
    , m_accel(accel.isEmpty() ? QStringLiteral("auto") : std::move(accel))
{
}

QString QemuDriver::binary() const
{
    return findExecutable(m_binary);
}

Core::Result QemuDriver::checkAvailable() const
{
    if (binary().isEmpty())
        return Core::Error(Core::ErrorCode::BinaryMissing,
                           QStringLiteral("%1 not found: install it (Debian: apt-get install qemu-system-x86) or set the QEMU binary in the config")
                               .arg(m_binary));
    if (m_accel == QLatin1String("kvm")) {
        const KvmStatus kvm = kvmStatus();
        if (!kvm.usable)
            return Core::Error(Core::ErrorCode::KvmUnavailable,
                               QStringLiteral("accel=kvm was asked for but %1; use accel auto or tcg").arg(kvm.reason));
    } else if (m_accel != QLatin1String("auto") && m_accel != QLatin1String("tcg")) {
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("unknown accelerator '%1' (auto, kvm or tcg)").arg(m_accel));
    }
    return {};
}

std::unique_ptr<VmmInstance> QemuDriver::createInstance(const VmSpec &spec) const
{
    VmSpec s = spec;
    if (s.accel.isEmpty() || s.accel == QLatin1String("auto"))
        s.accel = m_accel;
    return std::make_unique<QemuInstance>(std::move(s), binary().isEmpty() ? m_binary : binary());
}

namespace {

QString bootId()
{
    QFile f(QStringLiteral("/proc/sys/kernel/random/boot_id"));
    return f.open(QIODevice::ReadOnly) ? QString::fromLatin1(f.readAll().trimmed()) : QString();
}

QString verdictPath(const QString &binary, const QString &kernelPath)
{
    const QFileInfo q(binary), k(kernelPath);
    const QByteArray key = (bootId() + QLatin1Char('|') + q.absoluteFilePath() + QString::number(q.lastModified().toSecsSinceEpoch())
                            + QLatin1Char('|') + k.fileName() + QString::number(k.size()))
                               .toUtf8();
    const QString hash = QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex().left(24));
    return Core::Paths::cacheDir() + QStringLiteral("/probes/kvm-boot-") + hash;
}

} // namespace

Core::Future<QemuCommandLine::Accel> resolveQemuAccel(const QString &binary, const QString &accel,
                                                      const QString &kernelPath, QObject *context)
{
    using Accel = QemuCommandLine::Accel;
    if (accel == QLatin1String("tcg"))
        return Core::readyFuture<Accel>(Accel::Tcg);
    const KvmStatus kvm = kvmStatus();
    if (accel == QLatin1String("kvm")) {
        if (!kvm.usable)
            return Core::readyFuture<Accel>(Core::Error(Core::ErrorCode::KvmUnavailable, kvm.reason));
        return Core::readyFuture<Accel>(Accel::Kvm);
    }
    if (!kvm.usable) {
        Core::Log::vmm()->info("KVM not usable ({}); QEMU uses TCG", kvm.reason.toStdString());
        return Core::readyFuture<Accel>(Accel::Tcg);
    }
    const QString verdictFile = verdictPath(binary, kernelPath);
    QFile cached(verdictFile);
    if (cached.open(QIODevice::ReadOnly)) {
        const QByteArray v = cached.readAll();
        return Core::readyFuture<Accel>(v.startsWith("kvm") ? Accel::Kvm : Accel::Tcg);
    }

    // Boot the kernel with no root filesystem under KVM: a working host
    // reaches "VFS: Unable to mount root fs", panics and (panic=-1,
    // -no-reboot) QEMU exits within a second.
    Core::Promise<Accel> promise;
    auto *dir = new QTemporaryDir();
    auto *proc = new QProcess(context);
    const QString serial = dir->filePath(QStringLiteral("serial.log"));
    proc->setProgram(binary);
    proc->setArguments({QStringLiteral("-machine"), QStringLiteral("q35,accel=kvm"), QStringLiteral("-cpu"), QStringLiteral("host"),
                        QStringLiteral("-m"), QStringLiteral("256M"), QStringLiteral("-nodefaults"), QStringLiteral("-no-user-config"),
                        QStringLiteral("-display"), QStringLiteral("none"), QStringLiteral("-no-reboot"),
                        QStringLiteral("-kernel"), kernelPath,
                        QStringLiteral("-append"), QStringLiteral("console=ttyS0 panic=-1 reboot=t"),
                        QStringLiteral("-serial"), QStringLiteral("file:") + serial});
    proc->setProcessChannelMode(QProcess::MergedChannels);
    auto finish = [promise, proc, dir, verdictFile, serial](bool ok, const QString &why) {
        if (promise.isResolved())
            return;
        if (proc->state() != QProcess::NotRunning) {
            proc->kill();
            proc->waitForFinished(1000);
        }
        QDir().mkpath(QFileInfo(verdictFile).absolutePath());
        QSaveFile out(verdictFile);
        if (out.open(QIODevice::WriteOnly)) {
            out.write(ok ? QByteArray("kvm\n") : QByteArray("tcg: " + why.toUtf8() + '\n'));
            out.commit();
        }
        if (!ok)
            Core::Log::vmm()->warn("KVM looks usable but a guest kernel does not boot under it ({}); using TCG on this host", why.toStdString());
        proc->deleteLater();
        delete dir;
        promise.resolve(ok ? Accel::Kvm : Accel::Tcg);
    };
    QObject::connect(proc, &QProcess::finished, context, [proc, serial, finish](int, QProcess::ExitStatus) {
        QFile f(serial);
        const QByteArray log = f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        if (log.contains("Kernel panic") || log.contains("VFS:"))
            finish(true, QString());
        else
            finish(false, QStringLiteral("QEMU ended without the kernel booting: %1").arg(QString::fromLocal8Bit(proc->readAll().trimmed().right(200))));
    });
    QObject::connect(proc, &QProcess::errorOccurred, context, [finish](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            finish(false, QStringLiteral("QEMU failed to start"));
    });
    QTimer::singleShot(kKvmBootProbeTimeoutMs, context, [finish]() {
        finish(false, QStringLiteral("no kernel boot within %1 ms").arg(kKvmBootProbeTimeoutMs));
    });
    proc->start();
    return promise.future();
}

} // namespace Vmm
