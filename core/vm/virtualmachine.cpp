#include "core/vm/virtualmachine.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/image/vmdisk.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/vmmdriver.h"
#include "core/workerpool.h"

#include <algorithm>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QPointer>
#include <QRandomGenerator>
#include <QScopedValueRollback>
#include <QTemporaryDir>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace Vm {

QString stateName(VirtualMachine::State state)
{
    switch (state) {
    case VirtualMachine::State::Created: return QStringLiteral("created");
    case VirtualMachine::State::Preparing: return QStringLiteral("preparing");
    case VirtualMachine::State::Booting: return QStringLiteral("booting");
    case VirtualMachine::State::Ready: return QStringLiteral("running");
    case VirtualMachine::State::Paused: return QStringLiteral("paused");
    case VirtualMachine::State::Stopping: return QStringLiteral("stopping");
    case VirtualMachine::State::Stopped: return QStringLiteral("stopped");
    case VirtualMachine::State::Failed: return QStringLiteral("failed");
    }
    return QStringLiteral("unknown");
}

VirtualMachine::VirtualMachine(QString name, Templates::VmTemplate tmpl, const Vmm::VmmDriver &driver, QObject *parent)
    : QObject(parent)
    , m_name(std::move(name))
    , m_template(std::move(tmpl))
    , m_driver(driver)
    , m_vcpus(m_template.vcpus)
    , m_memoryMiB(m_template.memoryMiB)
    , m_readyTimeoutMs(m_template.agentReadyTimeoutS * 1000)
{
}

VirtualMachine::~VirtualMachine()
{
    kill();
}

void VirtualMachine::setState(State s)
{
    if (m_state == s)
        return;
    m_state = s;
    Q_EMIT stateChanged(s);
}

QString VirtualMachine::runtimeDir() const
{
    return m_runtimeDir ? m_runtimeDir->path() : m_adoptedRuntimeDir;
}

QString VirtualMachine::consoleLogPath() const
{
    if (!m_consoleLogPath.isEmpty())
        return m_consoleLogPath;
    return runtimeDir().isEmpty() ? QString() : QDir(runtimeDir()).filePath(QStringLiteral("console.log"));
}

QString VirtualMachine::consoleLog(int maxBytes) const
{
    return QString::fromUtf8(Vmm::ConsoleLog::tail(consoleLogPath(), maxBytes));
}

QString VirtualMachine::diskDir() const
{
    if (!m_diskDir.isEmpty())
        return m_diskDir;
    return m_ownDiskDir ? m_ownDiskDir->path() : QString();
}

Core::Future<void> VirtualMachine::start()
{
    if (m_state != State::Created && m_state != State::Stopped && m_state != State::Failed)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a stopped VM can be started").arg(m_name, stateName(m_state))));
    beginStart();
    setState(State::Preparing);
    if (!m_builder) {
        m_builder = new Image::ImageBuilder(this);
        connect(m_builder, &Image::ImageBuilder::progress, this, &VirtualMachine::imageProgress);
    }
    BootJob::Request request = bootRequest(BootJob::Kind::Fresh);
    request.builder = m_builder;
    request.image = m_template.image;
    request.agentBinary = Core::Paths::agentBinary();
    request.diskLayer = m_driver.kind() == Vmm::DriverKind::CloudHypervisor ? Image::DiskLayer::RawCopy : Image::DiskLayer::Qcow2Overlay;
    runBootJob(std::move(request));
    return m_startPromise.future();
}

void VirtualMachine::beginStart()
{
    m_startPromise = Core::Promise<void>();
    m_lastError = Core::Error();
}

// What every boot of this VM shares: its hardware, command line, console and
// agent channel.
BootJob::Request VirtualMachine::bootRequest(BootJob::Kind kind) const
{
    BootJob::Request request;
    request.kind = kind;
    request.readyTimeoutMs = m_readyTimeoutMs;
    Vmm::VmSpec &spec = request.spec;
    spec.name = m_name;
    spec.vcpus = m_vcpus;
    spec.maxVcpus = m_maxVcpus;
    spec.memoryMiB = m_memoryMiB;
    spec.kernelCmdline = QString(m_template.kernelCmdline + QStringLiteral(" mvs.hostname=") + m_name + QLatin1Char(' ') + m_extraKernelArgs).trimmed();
    if (m_template.desktop.enabled)
        spec.kernelCmdline += QLatin1Char(' ') + m_template.desktop.kernelArgs();
    spec.agentPortName = m_template.agentPortName;
    spec.agentVsockPort = m_template.agentVsockPort;
    spec.machine = m_template.qemuMachine;
    spec.extraSerialPorts = m_extraSerialPorts;
    spec.persistent = m_persistent;
    spec.nic = m_nic;
    if (m_nic && !m_guestNetSpec.isEmpty()) {
        request.guestNetSpec = m_guestNetSpec;
        if (kind == BootJob::Kind::Fresh)
            spec.kernelCmdline += QStringLiteral(" mvs.net=") + m_guestNetSpec;
    }
    return request;
}

void VirtualMachine::runBootJob(BootJob::Request request)
{
    const bool adopting = request.kind == BootJob::Kind::Adopt;
    auto *job = new BootJob(*this, std::move(request), this);
    m_bootJob = job;
    Core::whenDone(job->run(), this, [this, job = QPointer<BootJob>(job), adopting](const Core::Expected<BootJob::Outcome> &r) {
        if (!job || job != m_bootJob)
            return; // abandoned: the teardown that did it said why
        m_bootJob = nullptr;
        job->deleteLater();
        if (!r) {
            failStart(r.error());
            return;
        }
        booted(*r, adopting);
    });
}

void VirtualMachine::booted(const BootJob::Outcome &outcome, bool adopted)
{
    if (outcome.paused) {
        Core::Log::core()->info("{}: adopted (paused)", m_name.toStdString());
        setState(State::Paused);
        m_startPromise.resolve({});
        return;
    }
    if (adopted) {
        Core::Log::core()->info("{}: adopted; agent {} answered after {} ms", m_name.toStdString(), outcome.agentVersion.toStdString(), outcome.bootMs);
    } else {
        m_bootMs = outcome.bootMs;
        m_baseDiskPath = outcome.baseDiskPath;
        Core::Log::core()->info("{}: agent {} ready after {} ms", m_name.toStdString(), outcome.agentVersion.toStdString(), m_bootMs);
    }
    setState(State::Ready);
    readMemoryNow();
    m_startPromise.resolve({});
}

// A restored or adopted guest may hold a balloon: ask the VMM.
void VirtualMachine::readMemoryNow()
{
    m_memoryNowMiB = m_memoryMiB;
    Core::whenDone(m_instance->memory(), this, [this](const Core::Expected<qint64> &mib) {
        if (mib && m_instance)
            m_memoryNowMiB = *mib;
    });
}

Core::Expected<Vmm::VmmInstance *> VirtualMachine::attachInstance(Vmm::VmSpec spec)
{
    if (spec.runtimeDir.isEmpty()) {
        auto dir = makeRuntimeDir();
        if (!dir)
            return dir.error();
        spec.runtimeDir = *dir;
        // What this run boots, for its snapshots.
        m_kernelPath = spec.kernelPath;
        m_initramfsPath = spec.initramfsPath;
        m_disks = spec.disks;
    } else {
        m_adoptedRuntimeDir = spec.runtimeDir;
    }
    spec.consoleLogPath = consoleLogPath(); // in the runtime directory unless set
    spec.stateDir = m_stateDir;
    m_instance = m_driver.createInstance(spec);
    connect(m_instance.get(), &Vmm::VmmInstance::exitedUnexpectedly, this, &VirtualMachine::onVmmExited);
    setState(State::Booting);
    return m_instance.get();
}

Core::Expected<QString> VirtualMachine::makeRuntimeDir()
{
    const auto runtime = Core::Paths::ensureRuntimeDir();
    if (!runtime)
        return runtime.error();
    const QString base = *runtime;
    m_runtimeDir = std::make_unique<QTemporaryDir>(base + QLatin1Char('/') + m_name.left(32) + QStringLiteral("-XXXXXX"));
    if (!m_runtimeDir->isValid())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a runtime directory under %1").arg(base));
    return m_runtimeDir->path();
}

Agent::AgentClient *VirtualMachine::attachAgent()
{
    m_agent = new Agent::AgentClient(m_instance->agentEndpoint(), this);
    connect(m_agent, &Agent::AgentClient::connectionLost, this, [this](const Core::Error &e) {
        // The VMM's own death is reported by exitedUnexpectedly; a lost
        // agent connection with the VMM alive is logged, the VM stays up.
        Core::Log::agent()->warn("{}: {}", m_name.toStdString(), e.message.toStdString());
    });
    return m_agent;
}

Core::Expected<QString> VirtualMachine::writableDiskDir()
{
    if (!m_diskDir.isEmpty()) {
        if (auto ok = Core::Paths::ensurePrivateDir(m_diskDir); !ok)
            return ok.error();
        return m_diskDir;
    }
    if (m_ownDiskDir)
        return m_ownDiskDir->path();
    const QString disks = Core::Paths::dataDir() + QStringLiteral("/disks");
    if (auto ok = Core::Paths::ensurePrivateDir(disks); !ok)
        return ok.error();
    m_ownDiskDir = std::make_unique<QTemporaryDir>(disks + QLatin1Char('/') + m_name.left(32) + QStringLiteral("-XXXXXX"));
    if (!m_ownDiskDir->isValid()) {
        m_ownDiskDir.reset();
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a disk directory under %1").arg(disks));
    }
    return m_ownDiskDir->path();
}

// The VMM died (crash, kill -9, guest poweroff) without being asked to.
void VirtualMachine::onVmmExited(const Core::Error &error)
{
    if (m_state == State::Booting) {
        failStart(error);
        return;
    }
    if ((m_state == State::Ready || m_state == State::Paused) && !m_ending) {
        const QScopedValueRollback ending(m_ending, true);
        m_lastError = error;
        if (m_saveJob)
            m_saveJob->abandon(error); // a snapshot under way fails with why, not as cancelled
        cleanup(); // closing the agent fails its calls; a stop() from their callbacks finds the VM ending
        setState(State::Failed);
        Q_EMIT failed(error);
    }
}

void VirtualMachine::failStart(const Core::Error &error)
{
    if (m_ending)
        return; // fired by a teardown under way: its cause stands
    const QScopedValueRollback ending(m_ending, true);
    m_lastError = error;
    Core::Log::core()->warn("{}: start failed: {}", m_name.toStdString(), error.message.toStdString());
    cleanup();
    setState(State::Failed);
    m_startPromise.resolve(error);
}

Core::Future<void> VirtualMachine::pause()
{
    if (m_saveJob)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name)));
    if (m_state != State::Ready || !m_instance)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not running").arg(m_name)));
    Core::Promise<void> p;
    m_instance->pause().then(this, [this, p](const Core::Result &r) {
        if (r)
            setState(State::Paused);
        p.resolve(r);
    });
    return p.future();
}

Core::Future<qint64> VirtualMachine::setMemory(qint64 targetMiB)
{
    if (m_saveJob)
        return Core::readyFuture<qint64>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name)));
    if (m_state != State::Ready || !m_instance)
        return Core::readyFuture<qint64>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not running").arg(m_name)));
    Core::Promise<qint64> p;
    Core::whenDone(m_instance->setMemory(targetMiB), this, [this, p](const Core::Expected<qint64> &mib) {
        if (mib && m_instance)
            m_memoryNowMiB = *mib;
        p.resolve(mib);
    });
    return p.future();
}

int VirtualMachine::vcpuCeiling() const
{
    if (m_instance)
        return std::max(m_instance->spec().vcpus, m_instance->spec().maxVcpus);
    return std::max(m_vcpus, m_maxVcpus);
}

Core::Future<int> VirtualMachine::hotplugVcpus(int count)
{
    if (m_saveJob)
        return Core::readyFuture<int>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name)));
    if (m_state != State::Ready || !m_instance)
        return Core::readyFuture<int>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not running").arg(m_name)));
    // A snapshot from here on is loaded with the ceiling this VMM has,
    // boot vCPUs and all (-smp n,maxcpus=ceiling), whatever the count.
    const int ceiling = vcpuCeiling();
    Core::Promise<int> p;
    Core::whenDone(m_instance->setVcpus(count), this, [this, p, ceiling](const Core::Expected<int> &n) {
        if (n && m_instance) {
            m_vcpus = *n;
            m_maxVcpus = ceiling;
        }
        p.resolve(n);
    });
    return p.future();
}

Core::Future<void> VirtualMachine::resume()
{
    if (m_saveJob)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name)));
    if (m_state != State::Paused || !m_instance)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not paused").arg(m_name)));
    Core::Promise<void> p;
    m_instance->resume().then(this, [this, p](const Core::Result &r) {
        if (r && !m_agent) // adopted while paused: a new agent session
            attachAgent()->connectToAgent(BootJob::kAdoptAgentTimeoutMs);
        if (r)
            setState(State::Ready);
        p.resolve(r);
    });
    return p.future();
}

Core::Future<void> VirtualMachine::stop()
{
    if (m_ending)
        return Core::readyFuture(); // already being torn down, by a failure or a kill
    if (!m_instance) {
        cleanup();
        if (m_state != State::Created)
            setState(State::Stopped);
        return Core::readyFuture();
    }
    if (m_state == State::Preparing || m_state == State::Booting) {
        kill();
        return Core::readyFuture();
    }
    setState(State::Stopping);
    if (m_agent)
        m_agent->close();
    Core::Promise<void> p;
    m_instance->shutdown().then(this, [this, p](const Core::Result &r) {
        cleanup();
        setState(State::Stopped);
        p.resolve(r);
    });
    return p.future();
}

void VirtualMachine::kill()
{
    if (m_ending)
        return; // a teardown is under way and ends the VM itself
    const QScopedValueRollback ending(m_ending, true);
    const bool starting = m_state == State::Preparing || m_state == State::Booting;
    if (m_builder && m_state == State::Preparing)
        m_builder->cancel();
    cleanup();
    if (starting) {
        m_lastError = Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was stopped while starting").arg(m_name));
        m_startPromise.resolve(m_lastError);
    }
    if (m_state != State::Created && m_state != State::Failed)
        setState(State::Stopped);
}

void VirtualMachine::cleanup()
{
    // Detach everything first: tearing down fires callbacks (failed execs,
    // resolved futures) that may re-enter stop(), kill() or cleanup().
    if (m_saveJob)
        m_saveJob->abandon(); // its VMM goes now
    if (BootJob *job = std::exchange(m_bootJob, nullptr)) {
        job->abandon();
        job->deleteLater();
    }
    Agent::AgentClient *agent = std::exchange(m_agent, nullptr);
    std::unique_ptr<Vmm::VmmInstance> instance = std::move(m_instance);
    std::unique_ptr<QTemporaryDir> runtimeDir = std::move(m_runtimeDir);
    if (agent) {
        agent->close();
        agent->deleteLater();
    }
    if (instance) {
        instance->disconnect(this);
        instance->kill();
        // We may be inside one of its own calls: delete it from the event loop.
        instance.release()->deleteLater();
    }
    runtimeDir.reset(); // removes the directory and anything left in it
    if (const QString adopted = std::exchange(m_adoptedRuntimeDir, QString()); !adopted.isEmpty())
        QDir(adopted).removeRecursively();
}

Core::Expected<Vmm::DetachedVmm> VirtualMachine::detach()
{
    if ((m_state != State::Ready && m_state != State::Paused) || !m_instance)
        return Core::Error(Core::ErrorCode::InvalidState,
                           QStringLiteral("VM %1 is %2; only a running or paused VM can be left running").arg(m_name, stateName(m_state)));
    auto d = m_instance->detach();
    if (!d)
        return d.error();
    d->driver = m_driver.name();
    d->runtimeDir = runtimeDir();
    // The VMM keeps its sockets and log in the runtime directory: keep it.
    if (m_runtimeDir)
        m_runtimeDir->setAutoRemove(false);
    m_adoptedRuntimeDir.clear();
    cleanup(); // closes the agent connection; the detached instance kills nothing
    setState(State::Stopped);
    Core::Log::core()->info("{}: left running (pid {}, runtime directory {})", m_name.toStdString(), d->pid, d->runtimeDir.toStdString());
    return d;
}

Core::Expected<Vmm::DetachedVmm> VirtualMachine::vmmHandle() const
{
    if ((m_state != State::Ready && m_state != State::Paused) || !m_instance)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2").arg(m_name, stateName(m_state)));
    auto d = m_instance->handle();
    if (!d)
        return d.error();
    d->driver = m_driver.name();
    d->runtimeDir = runtimeDir();
    return d;
}

Core::Future<void> VirtualMachine::adopt(const Vmm::DetachedVmm &vmm)
{
    if (m_state != State::Created && m_state != State::Stopped && m_state != State::Failed)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a stopped VM can adopt a VMM").arg(m_name, stateName(m_state))));
    beginStart();
    BootJob::Request request = bootRequest(BootJob::Kind::Adopt);
    request.adopted = vmm;
    runBootJob(std::move(request));
    return m_startPromise.future();
}

Core::Future<void> VirtualMachine::claim(VirtualMachine &pooled)
{
    if (m_state != State::Created && m_state != State::Stopped && m_state != State::Failed)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a stopped VM can be started").arg(m_name, stateName(m_state))));
    if (pooled.m_state != State::Paused || !pooled.m_instance || !pooled.m_agent || !pooled.m_agent->isReady() || pooled.m_saveJob)
        return Core::readyFuture<void>(Core::Error(
            Core::ErrorCode::InvalidState, QStringLiteral("the pooled VM %1 is %2, not paused and ready").arg(pooled.m_name, stateName(pooled.m_state))));
    if (pooled.m_vcpus != m_vcpus || pooled.m_maxVcpus != m_maxVcpus || pooled.m_memoryMiB != m_memoryMiB || pooled.m_template.name != m_template.name)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the pooled VM %1 is not of VM %2's template and shape").arg(pooled.m_name, m_name)));
    beginStart();
    if (auto ok = takeRun(pooled); !ok) {
        failStart(ok.error());
        return m_startPromise.future();
    }
    BootJob::Request request = bootRequest(BootJob::Kind::Claim);
    request.claimedInstance = m_instance.get();
    request.claimedAgent = m_agent;
    request.claimedAgentVersion = m_agent->info().agentVersion;
    request.claimedBaseDiskPath = m_baseDiskPath;
    runBootJob(std::move(request));
    return m_startPromise.future();
}

// The pooled VM's VMM, agent session, runtime directory, disk and console
// become this VM's.
Core::Result VirtualMachine::takeRun(VirtualMachine &pooled)
{
    if (auto ok = takeDisk(pooled); !ok)
        return ok;
    const QString pooledConsole = pooled.consoleLogPath();
    if (!m_consoleLogPath.isEmpty() && pooledConsole != m_consoleLogPath) {
        QFile::remove(m_consoleLogPath); // a first start's: nothing of this VM's in it
        if (!QFile::rename(pooledConsole, m_consoleLogPath)) // the VMM writes on through its descriptor
            Core::Log::core()->warn("{}: could not move the console log {} to {}", m_name.toStdString(), pooledConsole.toStdString(),
                                    m_consoleLogPath.toStdString());
    }
    m_instance = std::move(pooled.m_instance);
    m_instance->disconnect(&pooled);
    connect(m_instance.get(), &Vmm::VmmInstance::exitedUnexpectedly, this, &VirtualMachine::onVmmExited);
    m_agent = std::exchange(pooled.m_agent, nullptr);
    m_agent->disconnect(&pooled);
    m_agent->setParent(this);
    connect(m_agent, &Agent::AgentClient::connectionLost, this,
            [this](const Core::Error &e) { Core::Log::agent()->warn("{}: {}", m_name.toStdString(), e.message.toStdString()); });
    m_runtimeDir = std::move(pooled.m_runtimeDir);
    m_adoptedRuntimeDir = std::exchange(pooled.m_adoptedRuntimeDir, QString());
    m_kernelPath = pooled.m_kernelPath;
    m_initramfsPath = pooled.m_initramfsPath;
    m_baseDiskPath = pooled.m_baseDiskPath;
    m_memoryNowMiB = pooled.m_memoryNowMiB;
    m_persistent = pooled.m_persistent;
    pooled.cleanup(); // nothing left to it but its empty disk directory
    pooled.setState(State::Stopped);
    setState(State::Booting);
    return {};
}

// The pooled VM's writable disk, open in its VMM, is renamed into this VM's
// disk directory (same file system: the VMM writes on through its
// descriptor; snapshots copy it from its new name).
Core::Result VirtualMachine::takeDisk(VirtualMachine &pooled)
{
    m_disks = pooled.m_disks;
    if (m_disks.isEmpty())
        return {};
    auto dir = writableDiskDir();
    if (!dir)
        return dir.error();
    const QString from = m_disks.first().path;
    const QString to = QDir(*dir).filePath(QFileInfo(from).fileName());
    if (::rename(QFile::encodeName(from).constData(), QFile::encodeName(to).constData()) != 0)
        return Core::Error(Core::ErrorCode::Io,
                           QStringLiteral("cannot move the pooled VM's disk %1 to %2: %3").arg(from, to, QString::fromLocal8Bit(std::strerror(errno))));
    m_disks.first().path = to;
    return {};
}

Core::Future<Snapshot::SnapshotInfo> VirtualMachine::saveSnapshot(const QString &directory, bool leavePaused)
{
    using Info = Snapshot::SnapshotInfo;
    if ((m_state != State::Ready && m_state != State::Paused) || !m_instance)
        return Core::readyFuture<Info>(Core::Error(
            Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a running or paused VM can be snapshotted").arg(m_name, stateName(m_state))));
    if (m_saveJob)
        return Core::readyFuture<Info>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken already").arg(m_name)));
    SnapshotSaveJob::Request request;
    request.vmName = m_name;
    request.directory = directory;
    request.wasPaused = m_state == State::Paused;
    request.leavePaused = leavePaused;
    request.info = describeRun();
    if (!m_disks.isEmpty())
        request.diskSource = m_disks.first().path;
    m_saveJob = new SnapshotSaveJob(m_instance.get(), request, this);
    Core::Promise<Info> promise;
    Core::whenDone(m_saveJob->run(), this, [this, promise, job = m_saveJob, request](const Core::Expected<Info> &r) {
        if (m_saveJob == job)
            m_saveJob = nullptr;
        job->deleteLater();
        if (r && request.leavePaused && !request.wasPaused && m_state == State::Ready)
            setState(State::Paused);
        promise.resolve(r);
    });
    return promise.future();
}

// What this run of the VM is, for a snapshot of it.
Snapshot::SnapshotInfo VirtualMachine::describeRun() const
{
    Snapshot::SnapshotInfo info;
    info.vm = m_name;
    info.driver = m_instance->driverName();
    info.vmmVersion = m_instance->vmmVersion();
    info.templateName = m_template.name;
    info.vcpus = m_vcpus;
    info.maxVcpus = m_maxVcpus;
    info.memoryMiB = m_memoryMiB;
    info.accel = m_instance->accelerated() ? QStringLiteral("kvm") : QStringLiteral("tcg");
    info.kernelPath = m_kernelPath;
    info.initramfsPath = m_initramfsPath;
    info.stateFiles = m_instance->stateFiles();
    if (!m_disks.isEmpty()) {
        info.baseDiskPath = m_baseDiskPath;
        info.diskFormat = m_disks.first().format;
        info.diskFile = QStringLiteral("disk.") + info.diskFormat;
    }
    return info;
}

bool VirtualMachine::cancelSnapshot()
{
    return m_saveJob && m_instance && m_saveJob->cancel();
}

Core::Future<void> VirtualMachine::restoreSnapshot(const Snapshot::SnapshotInfo &snapshot)
{
    auto fail = [](Core::ErrorCode code, const QString &message) { return Core::readyFuture<void>(Core::Error(code, message)); };
    if (m_saveJob)
        return fail(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name));
    if (m_state == State::Preparing || m_state == State::Booting || m_state == State::Stopping)
        return fail(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; restore it once it runs or has stopped").arg(m_name, stateName(m_state)));
    if (snapshot.driver != m_driver.name())
        return fail(Core::ErrorCode::Unsupported,
                    QStringLiteral("snapshot '%1' was taken with %2; this service runs %3").arg(snapshot.name, snapshot.driver, m_driver.name()));
    // A running VM tells its VMM's version: refuse another's state before
    // the VM is touched (a stopped VM's new VMM checks it before loading).
    if (m_instance && !snapshot.vmmVersion.isEmpty() && !m_instance->vmmVersion().isEmpty() && m_instance->vmmVersion() != snapshot.vmmVersion)
        return fail(Core::ErrorCode::Unsupported,
                    QStringLiteral("snapshot '%1' was taken by %2 %3 and this VM runs on %2 %4, which cannot load it reliably")
                        .arg(snapshot.name, snapshot.driver, snapshot.vmmVersion, m_instance->vmmVersion()));
    for (const QString &path : {snapshot.kernelPath, snapshot.initramfsPath, snapshot.baseDiskPath}) {
        if (!path.isEmpty() && !QFileInfo::exists(path))
            return fail(Core::ErrorCode::NotFound,
                        QStringLiteral("snapshot '%1' needs the guest image file %2, which is gone from the image cache").arg(snapshot.name, path));
    }

    cleanup(); // a running VM's VMM goes: the snapshot replaces its state
    beginStart();
    m_vcpus = snapshot.vcpus;
    m_maxVcpus = snapshot.maxVcpus;
    m_memoryMiB = snapshot.memoryMiB;
    setState(State::Preparing);
    BootJob::Request request = bootRequest(BootJob::Kind::Restore);
    request.snapshot = snapshot;
    runBootJob(std::move(request));
    return m_startPromise.future();
}

Core::Expected<PortForward *> VirtualMachine::forward(quint16 guestPort, const ForwardListen &listen)
{
    if ((m_state != State::Ready && m_state != State::Paused) || !m_agent || !m_agent->isReady())
        return Core::Error(Core::ErrorCode::InvalidState,
                           QStringLiteral("VM %1 is %2; ports are forwarded only while it runs").arg(m_name, stateName(m_state)));
    if (guestPort == 0 || (!listen.unixSocket && !listen.tcp))
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("a forward needs a guest port and somewhere to listen"));
    // A child of this run's agent client: gone when the VM stops.
    auto forward = std::make_unique<PortForward>(m_agent, QStringLiteral("127.0.0.1"), guestPort);
    if (listen.unixSocket) {
        const QDir dir(runtimeDir());
        QString path = dir.filePath(QStringLiteral("fwd-%1.sock").arg(guestPort));
        for (int n = 2; QFileInfo::exists(path); ++n)
            path = dir.filePath(QStringLiteral("fwd-%1-%2.sock").arg(guestPort).arg(n));
        if (auto ok = forward->listenUnix(path); !ok)
            return ok.error();
    }
    if (listen.tcp) {
        if (auto ok = forward->listenTcp(listen.tcpAddress, listen.tcpPort); !ok)
            return ok.error();
    }
    forward->setParent(m_agent);
    return forward.release();
}

} // namespace Vm
