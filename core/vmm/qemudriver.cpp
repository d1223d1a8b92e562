#include "core/vmm/qemudriver.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/kvmbootprobe.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemuinstance.h"
#include "core/vmm/vmmprocess.h"
#include "core/workerpool.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QPointer>
#include <QSaveFile>

#include <optional>
#include <sys/stat.h>

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
        return Core::Error(
            Core::ErrorCode::BinaryMissing,
            QStringLiteral("%1 not found: install it (Debian: apt-get install qemu-system-x86) or set the QEMU binary in the config").arg(m_binary));
    if (m_accel == QLatin1String("kvm")) {
        const KvmStatus kvm = kvmStatus();
        if (!kvm.usable)
            return Core::Error(Core::ErrorCode::KvmUnavailable, QStringLiteral("accel=kvm was asked for but %1; use accel auto or tcg").arg(kvm.reason));
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

// The verdict file for this host boot, QEMU binary and kernel.
QString verdictPath(const QString &binary, const QString &kernelPath)
{
    const QFileInfo q(binary), k(kernelPath);
    const QByteArray key = (bootId() + QLatin1Char('|') + q.absoluteFilePath() + QString::number(q.lastModified().toSecsSinceEpoch()) + QLatin1Char('|')
                            + k.fileName() + QString::number(k.size()))
                               .toUtf8();
    const QString hash = QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex().left(24));
    return kvmProbeDir() + QStringLiteral("/kvm-boot-") + hash;
}

std::optional<KvmBootProbe::Verdict> readVerdict(const QString &path)
{
    if (!Core::Paths::ensureRuntimeDir())
        return std::nullopt; // a runtime directory not ours holds no verdict we trust
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QByteArray v = f.read(4096).trimmed();
    if (v == "kvm")
        return KvmBootProbe::Verdict{true, QString()};
    if (v.startsWith("tcg"))
        return KvmBootProbe::Verdict{false, QString::fromUtf8(v.mid(4).trimmed())};
    return std::nullopt; // not ours: probe again
}

void writeVerdict(const QString &path, const KvmBootProbe::Verdict &v)
{
    if (!Core::Paths::ensureRuntimeDir())
        return; // never write into a runtime directory that is not ours
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly))
        return;
    out.write(v.kvm ? QByteArray("kvm\n") : QByteArray("tcg: " + v.reason.toUtf8() + '\n'));
    out.commit();
}

// The probes under way in this process, by verdict file: VMs that start at
// once share one.
QHash<QString, QPointer<KvmBootProbe>> &probesUnderWay()
{
    static QHash<QString, QPointer<KvmBootProbe>> probes;
    return probes;
}

} // namespace

QString kvmProbeDir()
{
    return Core::Paths::runtimeDir() + QStringLiteral("/probes");
}

Core::Future<KvmBootProbe::Verdict> kvmBootVerdict(const QString &binary, const QString &kernelPath, const QString &verdictFile, int timeoutMs)
{
    if (const auto cached = readVerdict(verdictFile))
        return Core::readyFuture<KvmBootProbe::Verdict>(*cached);
    auto &probes = probesUnderWay();
    if (KvmBootProbe *p = probes.value(verdictFile))
        return p->verdict();
    auto *probe = new KvmBootProbe(binary, kernelPath, QFileInfo(verdictFile).absolutePath(), timeoutMs, QCoreApplication::instance());
    probes.insert(verdictFile, probe);
    Core::whenDone(probe->verdict(), probe, [verdictFile](const Core::Expected<KvmBootProbe::Verdict> &v) {
        if (!v)
            return; // abandoned: no verdict to keep
        writeVerdict(verdictFile, *v);
        if (!v->kvm)
            Core::Log::vmm()->warn("KVM looks usable but a guest kernel does not boot under it ({}); using TCG on this host", v->reason.toStdString());
    });
    QObject::connect(probe, &KvmBootProbe::done, probe, [verdictFile, probe]() {
        probesUnderWay().remove(verdictFile);
        probe->deleteLater();
    });
    probe->start();
    return probe->verdict();
}

namespace {

void decideAccel(const KvmStatus &kvm, const QString &binary, const QString &accel, const QString &kernelPath, Core::Promise<QemuCommandLine::Accel> promise)
{
    using Accel = QemuCommandLine::Accel;
    if (accel == QLatin1String("kvm")) {
        promise.resolve(kvm.usable ? Core::Expected<Accel>(Accel::Kvm) : Core::Expected<Accel>(Core::Error(Core::ErrorCode::KvmUnavailable, kvm.reason)));
        return;
    }
    if (!kvm.usable) {
        Core::Log::vmm()->info("KVM not usable ({}); QEMU uses TCG", kvm.reason.toStdString());
        promise.resolve(Accel::Tcg);
        return;
    }
    kvmBootVerdict(binary, kernelPath, verdictPath(binary, kernelPath))
        .then([promise](const Core::Expected<KvmBootProbe::Verdict> &v) {
            if (!v)
                promise.resolve(v.error()); // abandoned: the process is ending
            else
                promise.resolve(v->kvm ? Accel::Kvm : Accel::Tcg);
        })
        .onCanceled([promise]() { promise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the KVM boot probe was abandoned")); });
}

// KVM for this host and as the VMM user may use it.
struct KvmCheck {
    KvmStatus host;
    KvmStatus forVmm;
};

} // namespace

QString kvmVmmUserVerdictPath()
{
    return kvmProbeDir() + QStringLiteral("/kvm-vmm-user");
}

void keepKvmVmmUserVerdict(const KvmStatus &host, const KvmStatus &forVmm)
{
    const QString path = kvmVmmUserVerdictPath();
    if (host.usable && !forVmm.usable)
        writeVerdict(path, KvmBootProbe::Verdict{false, forVmm.reason});
    else if (QFile::exists(path) && Core::Paths::ensureRuntimeDir())
        QFile::remove(path); // the VMM user may open it now: nothing left to explain
}

KvmStatus kvmStatusFor(const KvmStatus &kvm, const std::optional<VmmCredentials> &vmmUser, const QString &device)
{
    if (!kvm.usable || !vmmUser)
        return kvm;
    struct stat st { };
    if (::stat(QFile::encodeName(device).constData(), &st) == 0 && mayReadWrite(*vmmUser, st.st_uid, st.st_gid, st.st_mode))
        return kvm;
    return KvmStatus{false,
                     QStringLiteral("the VMM user %1 may not open %2 (add it to the group that owns it: usermod -a -G kvm %1)").arg(vmmUser->user, device)};
}

Core::Future<QemuCommandLine::Accel> resolveQemuAccel(const QString &binary, const QString &accel, const QString &kernelPath,
                                                      const std::optional<VmmCredentials> &vmmUser)
{
    if (accel == QLatin1String("tcg"))
        return Core::readyFuture<QemuCommandLine::Accel>(QemuCommandLine::Accel::Tcg);
    // The vCPU probe forks and waits (up to kKvmProbeTimeoutMs on a broken
    // host): off this thread, which may be the GUI's.
    Core::Promise<QemuCommandLine::Accel> promise;
    Core::runInThread<KvmCheck>([vmmUser]() {
        const KvmStatus host = kvmStatus();
        return Core::Expected<KvmCheck>(KvmCheck{host, kvmStatusFor(host, vmmUser)});
    })
        .then([binary, accel, kernelPath, promise](const Core::Expected<KvmCheck> &kvm) {
            // runInThread resolves on the main thread
            keepKvmVmmUserVerdict(kvm->host, kvm->forVmm);
            decideAccel(kvm->forVmm, binary, accel, kernelPath, promise);
        })
        .onCanceled([promise]() { promise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the KVM probe was abandoned")); });
    return promise.future();
}

} // namespace Vmm
