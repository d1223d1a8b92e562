#include "core/vm/bootjob.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/vmm/vmminstance.h"
#include "core/workerpool.h"

#include <QDateTime>
#include <QDir>
#include <QRandomGenerator>
#include <QRegularExpression>

namespace Vm {

BootJob::BootJob(Host &host, Request request, QObject *parent)
    : QObject(parent)
    , m_host(host)
    , m_request(std::move(request))
{
}

Core::Future<BootJob::Outcome> BootJob::run()
{
    if (m_started)
        return Core::readyFuture<Outcome>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the boot job already ran")));
    m_started = true;
    switch (m_request.kind) {
    case Kind::Fresh: return runFresh();
    case Kind::Restore: return runRestore();
    case Kind::Adopt: return runAdopt();
    case Kind::Claim: return runClaim();
    }
    return Core::readyFuture<Outcome>(Core::Error(Core::ErrorCode::Internal, QStringLiteral("unknown boot kind")));
}

Core::Future<BootJob::Outcome> BootJob::runFresh()
{
    const auto image = prepareImage();
    const auto disks = Core::then(image, this, [this](const Image::GuestImage &i) { return prepareDisk(i); });
    const auto started = Core::then(disks, this, [this](const QList<Vmm::DiskSpec> &d) { return startVmm(d); });
    const auto agent = Core::then(started, this, [this]() { return connectAgent(m_request.readyTimeoutMs); });
    return Core::then(agent, this, [this](const Agent::AgentInfo &info) { return ready(info); });
}

Core::Future<BootJob::Outcome> BootJob::runRestore()
{
    m_kernelPath = m_request.snapshot.kernelPath;
    m_initramfsPath = m_request.snapshot.initramfsPath;
    m_baseDiskPath = m_request.snapshot.baseDiskPath;
    const auto disks = copySnapshotDisk();
    const auto started = Core::then(disks, this, [this](const QList<Vmm::DiskSpec> &d) { return startVmm(d); });
    const auto agent = Core::then(started, this, [this]() { return connectAgent(m_request.readyTimeoutMs); });
    return Core::then(agent, this, [this](const Agent::AgentInfo &info) { return moveRestoredGuestOn(info); });
}

Core::Future<BootJob::Outcome> BootJob::runAdopt()
{
    const auto adopted = adoptVmm();
    return Core::then(adopted, this, [this]() { return connectUnlessPaused(); });
}

Core::Future<BootJob::Outcome> BootJob::runClaim()
{
    m_instance = m_request.claimedInstance;
    m_agent = m_request.claimedAgent;
    m_baseDiskPath = m_request.claimedBaseDiskPath;
    if (!m_instance || !m_agent || !m_agent->isReady())
        return Core::readyFuture<Outcome>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1: the claimed VM has no VMM or agent").arg(m_request.spec.name)));
    m_bootTimer.start();
    const auto resumed = m_instance->resume();
    return Core::then(resumed, this, [this]() {
        Agent::AgentInfo info;
        info.agentVersion = m_request.claimedAgentVersion;
        return moveRestoredGuestOn(info);
    });
}

// Fresh: the template's image, built or found in the cache.
Core::Future<Image::GuestImage> BootJob::prepareImage()
{
    return m_request.builder->ensure(m_request.image, m_request.agentBinary);
}

// Fresh: the VM's own writable layer over the shared read-only root disk
// (none for an initramfs-only image).
Core::Future<QList<Vmm::DiskSpec>> BootJob::prepareDisk(const Image::GuestImage &image)
{
    using Disks = QList<Vmm::DiskSpec>;
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<Disks>(ok.error());
    m_kernelPath = image.kernelPath;
    m_initramfsPath = image.initramfsPath;
    m_baseDiskPath = image.rootDiskPath;
    if (image.rootDiskPath.isEmpty())
        return Core::readyFuture<Disks>(Disks{});
    auto dir = m_host.writableDiskDir();
    if (!dir)
        return Core::readyFuture<Disks>(dir.error());
    return Core::then(Image::prepareVmDisk(image.rootDiskPath, *dir, m_request.diskLayer), this,
                      [](const Vmm::DiskSpec &disk) -> Core::Expected<Disks> { return Disks{disk}; });
}

// Restore: the snapshot's disk copied over the VM's own (the snapshot is
// never written to), off the event loop.
Core::Future<QList<Vmm::DiskSpec>> BootJob::copySnapshotDisk()
{
    using Disks = QList<Vmm::DiskSpec>;
    const Snapshot::SnapshotInfo &snapshot = m_request.snapshot;
    if (snapshot.diskFile.isEmpty())
        return Core::readyFuture<Disks>(Disks{});
    auto dir = m_host.writableDiskDir();
    if (!dir)
        return Core::readyFuture<Disks>(dir.error());
    const Vmm::DiskSpec disk{QDir(*dir).filePath(QStringLiteral("root.") + snapshot.diskFormat), snapshot.diskFormat, false};
    const QString source = QDir(snapshot.directory).filePath(snapshot.diskFile);
    const auto copied = Core::runInThread<void>([source, target = disk.path]() { return Image::copyDiskFile(source, target); });
    return Core::then(copied, this, [disk]() -> Core::Expected<Disks> { return Disks{disk}; });
}

Core::Future<void> BootJob::startVmm(const QList<Vmm::DiskSpec> &disks)
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<void>(ok.error());
    Vmm::VmSpec spec = m_request.spec;
    spec.kernelPath = m_kernelPath;
    spec.initramfsPath = m_initramfsPath;
    spec.disks = disks;
    if (!disks.isEmpty()) // the initramfs mounts root= (the first disk) and switches into it
        spec.kernelCmdline += QStringLiteral(" root=/dev/vda");
    const bool restoring = m_request.kind == Kind::Restore;
    if (restoring)
        spec.accel = m_request.snapshot.accel;
    auto instance = m_host.attachInstance(spec);
    if (!instance)
        return Core::readyFuture<void>(instance.error());
    m_instance = *instance;
    m_bootTimer.start();
    return restoring ? m_instance->startFromState(m_request.snapshot.directory, m_request.snapshot.vmmVersion) : m_instance->start();
}

Core::Future<void> BootJob::adoptVmm()
{
    Vmm::VmSpec spec = m_request.spec;
    spec.runtimeDir = m_request.adopted.runtimeDir;
    spec.accel = m_request.adopted.accel;
    spec.persistent = true;
    auto instance = m_host.attachInstance(spec);
    if (!instance)
        return Core::readyFuture<void>(instance.error());
    m_instance = *instance;
    m_bootTimer.start();
    return m_instance->adopt(m_request.adopted);
}

// A new connection and Hello (an adopted guest's agent drops what the
// previous client had open and starts a new session).
Core::Future<Agent::AgentInfo> BootJob::connectAgent(int timeoutMs)
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<Agent::AgentInfo>(ok.error());
    m_agent = m_host.attachAgent();
    const int remaining = qMax(kMinAgentWaitMs, timeoutMs - static_cast<int>(m_bootTimer.elapsed()));
    const auto connected = m_agent->connectToAgent(remaining);
    Core::Promise<Agent::AgentInfo> explained;
    Core::whenDone(connected, this, [this, explained](const Core::Expected<Agent::AgentInfo> &info) {
        explained.resolve(info ? info : Core::Expected<Agent::AgentInfo>(explainAgentFailure(info.error())));
    });
    return explained.future();
}

// A boot timeout says how long, under which accelerator, and what the guest
// printed last.
Core::Error BootJob::explainAgentFailure(Core::Error error) const
{
    if (error.code != Core::ErrorCode::Timeout || m_request.kind == Kind::Adopt || !m_instance)
        return error;
    error.message = QStringLiteral("VM %1 did not reach its guest agent within %2 s (%3). Serial log tail:\n%4")
                        .arg(m_request.spec.name)
                        .arg(m_request.readyTimeoutMs / 1000)
                        .arg(m_instance->accelerated() ? QStringLiteral("KVM") : QStringLiteral("TCG"), m_host.consoleLog(kConsoleTailBytes));
    return error;
}

// Restore: what stood still in the snapshot moves on, in one exec: the
// guest's clock is set to now (whole seconds; NTP, where the guest runs it,
// does the rest), and its random number generator is reseeded from the
// host, so copies of one snapshot do not share a random stream. A guest
// that cannot, or does not answer by the deadline, fails the restore: a
// guest with a stale clock and a shared random stream is not ready.
// "microvm-agent --configure-net <spec> && " for a VM with a NIC, else
// nothing. The spec is the host's own (Net::GuestNet::spec): digits, hex,
// dots, colons, commas and a slash, nothing a shell reads.
QString BootJob::configureNet() const
{
    const QString &spec = m_request.guestNetSpec;
    static const QRegularExpression plain(QStringLiteral("^[0-9a-fA-F.:/,]+$"));
    if (spec.isEmpty() || !plain.match(spec).hasMatch())
        return {};
    return QStringLiteral("%1 --configure-net %2 && ").arg(QLatin1String(kGuestAgentCommand), spec);
}

Core::Future<BootJob::Outcome> BootJob::moveRestoredGuestOn(const Agent::AgentInfo &info)
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<Outcome>(ok.error());
    QByteArray seed(kRngSeedBytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(seed.data()), seed.size() / 4);
    Agent::ExecRequest afterRestore;
    afterRestore.argv = QStringList{QStringLiteral("/bin/sh"), QStringLiteral("-c"),
                                    QStringLiteral("date -u -s @%1 >/dev/null && hostname %2 && %3exec %4 --reseed-rng")
                                        .arg(QDateTime::currentSecsSinceEpoch())
                                        .arg(m_request.spec.name, configureNet(), QLatin1String(kGuestAgentCommand))};
    afterRestore.stdinData = seed;
    afterRestore.timeoutMs = kClockSyncTimeoutMs;
    afterRestore.limits = Agent::StreamLimits::internalCommand(kClockSyncTimeoutMs); // a silent guest cannot hold the restore
    Core::Promise<Outcome> promise;
    Core::whenDone(m_agent->run(afterRestore), this, [this, info, promise](const Core::Expected<Agent::ExecResult> &set) {
        const auto done = Agent::requireSuccess(set,
                                                QStringLiteral("VM %1: setting the restored guest's clock%2 and reseeding its RNG")
                                                    .arg(m_request.spec.name, m_request.guestNetSpec.isEmpty() ? QString() : QStringLiteral(", network")));
        promise.resolve(done ? ready(info) : Core::Expected<Outcome>(done.error()));
    });
    return promise.future();
}

// Adopt: a paused guest cannot answer the agent's Hello; it connects on
// resume.
Core::Future<BootJob::Outcome> BootJob::connectUnlessPaused()
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<Outcome>(ok.error());
    if (m_instance->state() == Vmm::VmmInstance::State::Paused) {
        Outcome paused;
        paused.paused = true;
        paused.bootMs = m_bootTimer.elapsed();
        return Core::readyFuture<Outcome>(paused);
    }
    const auto agent = connectAgent(kAdoptAgentTimeoutMs);
    return Core::then(agent, this, [this](const Agent::AgentInfo &info) { return ready(info); });
}

Core::Expected<BootJob::Outcome> BootJob::ready(const Agent::AgentInfo &info)
{
    if (auto ok = goOn(); !ok)
        return ok.error();
    Outcome outcome;
    outcome.agentVersion = info.agentVersion;
    outcome.bootMs = m_bootTimer.elapsed();
    outcome.baseDiskPath = m_baseDiskPath;
    return outcome;
}

Core::Result BootJob::goOn() const
{
    if (m_abandoned)
        return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was stopped while starting").arg(m_request.spec.name));
    return {};
}

} // namespace Vm
