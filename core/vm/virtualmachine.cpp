#include "core/vm/virtualmachine.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/image/vmdisk.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/vmmdriver.h"
#include "core/workerpool.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QPointer>
#include <QRandomGenerator>
#include <QScopedValueRollback>
#include <QTemporaryDir>

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
    QFile f(consoleLogPath());
    if (!f.open(QIODevice::ReadOnly))
        return {};
    if (f.size() > maxBytes)
        f.seek(f.size() - maxBytes);
    return QString::fromUtf8(f.readAll());
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
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a stopped VM can be started").arg(m_name, stateName(m_state))));
    m_startPromise = Core::Promise<void>();
    m_lastError = Core::Error();
    setState(State::Preparing);

    const QString agentBinary = Core::Paths::agentBinary();
    if (!m_builder) {
        m_builder = new Image::ImageBuilder(this);
        connect(m_builder, &Image::ImageBuilder::progress, this, &VirtualMachine::imageProgress);
    }
    m_builder->ensure(m_template.image, agentBinary).then(this, [this](const Core::Expected<Image::GuestImage> &img) {
        if (m_state != State::Preparing)
            return; // killed meanwhile
        if (!img) {
            failStart(img.error());
            return;
        }
        m_baseDiskPath = img->rootDiskPath;
        if (img->rootDiskPath.isEmpty()) {
            boot(img->kernelPath, img->initramfsPath, {});
            return;
        }
        // The VM's own writable layer over the shared read-only root disk.
        if (auto ok = ensureDiskDir(); !ok) {
            failStart(ok.error());
            return;
        }
        const auto layer = m_driver.kind() == Vmm::DriverKind::CloudHypervisor ? Image::DiskLayer::RawCopy : Image::DiskLayer::Qcow2Overlay;
        Core::whenDone(Image::prepareVmDisk(img->rootDiskPath, diskDir(), layer), this,
                       [this, kernel = img->kernelPath, initramfs = img->initramfsPath](const Core::Expected<Vmm::DiskSpec> &disk) {
                           if (m_state != State::Preparing)
                               return; // killed meanwhile
                           if (!disk) {
                               failStart(disk.error());
                               return;
                           }
                           boot(kernel, initramfs, {*disk});
                       });
    });
    return m_startPromise.future();
}

Core::Result VirtualMachine::ensureDiskDir()
{
    if (!m_diskDir.isEmpty())
        return Core::Paths::ensurePrivateDir(m_diskDir);
    if (m_ownDiskDir)
        return {};
    const QString disks = Core::Paths::dataDir() + QStringLiteral("/disks");
    if (auto ok = Core::Paths::ensurePrivateDir(disks); !ok)
        return ok;
    m_ownDiskDir = std::make_unique<QTemporaryDir>(disks + QLatin1Char('/') + m_name.left(32) + QStringLiteral("-XXXXXX"));
    if (!m_ownDiskDir->isValid()) {
        m_ownDiskDir.reset();
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a disk directory under %1").arg(disks));
    }
    return {};
}

void VirtualMachine::boot(const QString &kernel, const QString &initramfs, const QList<Vmm::DiskSpec> &disks, const QString &restoreDir)
{
    m_kernelPath = kernel;
    m_initramfsPath = initramfs;
    m_disks = disks;
    const QString base = Core::Paths::runtimeDir();
    if (auto ok = Core::Paths::ensurePrivateDir(base); !ok) {
        failStart(ok.error());
        return;
    }
    m_runtimeDir = std::make_unique<QTemporaryDir>(base + QLatin1Char('/') + m_name.left(32) + QStringLiteral("-XXXXXX"));
    if (!m_runtimeDir->isValid()) {
        failStart(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a runtime directory under %1").arg(base)));
        return;
    }
    Vmm::VmSpec spec;
    spec.name = m_name;
    spec.vcpus = m_vcpus;
    spec.memoryMiB = m_memoryMiB;
    spec.kernelPath = kernel;
    spec.initramfsPath = initramfs;
    spec.kernelCmdline = QString(m_template.kernelCmdline + QStringLiteral(" mvs.hostname=") + m_name + QLatin1Char(' ') + m_extraKernelArgs).trimmed();
    spec.disks = disks;
    if (!disks.isEmpty()) // the initramfs mounts root= (the first disk) and switches into it
        spec.kernelCmdline += QStringLiteral(" root=/dev/vda");
    if (m_template.desktop.enabled)
        spec.kernelCmdline += QLatin1Char(' ') + m_template.desktop.kernelArgs();
    spec.runtimeDir = m_runtimeDir->path();
    spec.consoleLogPath = consoleLogPath();
    spec.agentPortName = m_template.agentPortName;
    spec.agentVsockPort = m_template.agentVsockPort;
    spec.machine = m_template.qemuMachine;
    spec.extraSerialPorts = m_extraSerialPorts;
    if (!restoreDir.isEmpty())
        spec.accel = m_restoreAccel;
    spec.persistent = m_persistent;
    m_instance = m_driver.createInstance(spec);
    connect(m_instance.get(), &Vmm::VmmInstance::exitedUnexpectedly, this, &VirtualMachine::onVmmExited);

    setState(State::Booting);
    m_bootTimer.start();
    Core::Future<void> started = restoreDir.isEmpty() ? m_instance->start() : m_instance->startFromState(restoreDir, m_restoreVmmVersion);
    const bool restored = !restoreDir.isEmpty();
    started.then(this, [this, restored](const Core::Result &r) {
        if (m_state != State::Booting)
            return;
        if (!r) {
            failStart(r.error());
            return;
        }
        m_agent = new Agent::AgentClient(m_instance->agentEndpoint(), this);
        connect(m_agent, &Agent::AgentClient::connectionLost, this, [this](const Core::Error &e) {
            // The VMM's own death is reported by exitedUnexpectedly; a lost
            // agent connection with the VMM alive is logged, the VM stays up.
            Core::Log::agent()->warn("{}: {}", m_name.toStdString(), e.message.toStdString());
        });
        const int remaining = qMax(1000, m_readyTimeoutMs - static_cast<int>(m_bootTimer.elapsed()));
        m_agent->connectToAgent(remaining).then(this, [this, restored](const Core::Expected<Agent::AgentInfo> &info) {
            if (m_state != State::Booting)
                return;
            if (!info) {
                Core::Error e = info.error();
                if (e.code == Core::ErrorCode::Timeout) {
                    e.message = QStringLiteral("VM %1 did not reach its guest agent within %2 s (%3). Serial log tail:\n%4")
                                    .arg(m_name)
                                    .arg(m_readyTimeoutMs / 1000)
                                    .arg(m_instance->accelerated() ? QStringLiteral("KVM") : QStringLiteral("TCG"),
                                         consoleLog(4096));
                }
                failStart(e);
                return;
            }
            if (!restored) {
                becomeReady(info->agentVersion);
                return;
            }
            // What stood still in the snapshot moves on, in one exec: the
            // guest's clock is set to now (whole seconds; NTP, where the guest
            // runs it, does the rest), and its random number generator is
            // reseeded from the host, so copies of one snapshot do not share
            // a random stream.
            QByteArray seed(kRngSeedBytes, Qt::Uninitialized);
            QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(seed.data()), seed.size() / 4);
            Agent::ExecRequest afterRestore;
            afterRestore.argv = QStringList{QStringLiteral("/bin/sh"), QStringLiteral("-c"),
                                            QStringLiteral("date -u -s @%1 >/dev/null && exec /usr/sbin/microvm-agent --reseed-rng")
                                                .arg(QDateTime::currentSecsSinceEpoch())};
            afterRestore.stdinData = seed;
            afterRestore.timeoutMs = kClockSyncTimeoutMs;
            Core::whenDone(m_agent->run(afterRestore), this, [this, version = info->agentVersion](const Core::Expected<Agent::ExecResult> &set) {
                if (m_state != State::Booting)
                    return;
                if (!set || set->exitCode != 0)
                    Core::Log::core()->warn("{}: could not set the restored guest's clock and reseed its RNG: {}", m_name.toStdString(),
                                            set ? QString::fromUtf8(set->stderrData).trimmed().toStdString() : set.error().message.toStdString());
                becomeReady(version);
            });
        });
    });
}

void VirtualMachine::becomeReady(const QString &agentVersion)
{
    m_bootMs = m_bootTimer.elapsed();
    Core::Log::core()->info("{}: agent {} ready after {} ms", m_name.toStdString(), agentVersion.toStdString(), m_bootMs);
    setState(State::Ready);
    m_startPromise.resolve({});
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

Core::Future<void> VirtualMachine::resume()
{
    if (m_saveJob)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot of VM %1 is being taken").arg(m_name)));
    if (m_state != State::Paused || !m_instance)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is not paused").arg(m_name)));
    Core::Promise<void> p;
    m_instance->resume().then(this, [this, p](const Core::Result &r) {
        if (r && !m_agent)
            connectAdoptedAgent(); // adopted while paused
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
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a stopped VM can adopt a VMM").arg(m_name, stateName(m_state))));
    m_startPromise = Core::Promise<void>();
    m_lastError = Core::Error();
    m_adoptedRuntimeDir = vmm.runtimeDir;
    Vmm::VmSpec spec;
    spec.name = m_name;
    spec.vcpus = m_vcpus;
    spec.memoryMiB = m_memoryMiB;
    spec.runtimeDir = vmm.runtimeDir;
    spec.consoleLogPath = consoleLogPath();
    spec.agentPortName = m_template.agentPortName;
    spec.agentVsockPort = m_template.agentVsockPort;
    spec.machine = m_template.qemuMachine;
    spec.accel = vmm.accel;
    spec.persistent = true;
    m_instance = m_driver.createInstance(spec);
    connect(m_instance.get(), &Vmm::VmmInstance::exitedUnexpectedly, this, &VirtualMachine::onVmmExited);
    setState(State::Booting);
    m_bootTimer.start();
    m_instance->adopt(vmm).then(this, [this](const Core::Result &r) {
        if (m_state != State::Booting)
            return;
        if (!r) {
            failStart(r.error());
            return;
        }
        if (m_instance->state() == Vmm::VmmInstance::State::Paused) {
            // A paused guest cannot answer the agent's Hello: connect on resume.
            Core::Log::core()->info("{}: adopted (paused)", m_name.toStdString());
            setState(State::Paused);
            m_startPromise.resolve({});
            return;
        }
        connectAdoptedAgent().then(this, [this](const Core::Expected<Agent::AgentInfo> &info) {
            if (m_state != State::Booting)
                return;
            if (!info) {
                failStart(info.error());
                return;
            }
            Core::Log::core()->info("{}: adopted; agent {} answered after {} ms", m_name.toStdString(), info->agentVersion.toStdString(),
                                    m_bootTimer.elapsed());
            setState(State::Ready);
            m_startPromise.resolve({});
        });
    });
    return m_startPromise.future();
}

Core::Future<Agent::AgentInfo> VirtualMachine::connectAdoptedAgent()
{
    // A new connection and Hello: the guest agent drops what the previous
    // client had open and starts a new session.
    m_agent = new Agent::AgentClient(m_instance->agentEndpoint(), this);
    connect(m_agent, &Agent::AgentClient::connectionLost, this, [this](const Core::Error &e) {
        Core::Log::agent()->warn("{}: {}", m_name.toStdString(), e.message.toStdString());
    });
    return m_agent->connectToAgent(kAdoptAgentTimeoutMs);
}

Core::Future<Snapshot::SnapshotInfo> VirtualMachine::saveSnapshot(const QString &directory, bool leavePaused)
{
    using Info = Snapshot::SnapshotInfo;
    if ((m_state != State::Ready && m_state != State::Paused) || !m_instance)
        return Core::readyFuture<Info>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a running or paused VM can be snapshotted").arg(m_name, stateName(m_state))));
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
    m_startPromise = Core::Promise<void>();
    m_lastError = Core::Error();
    m_vcpus = snapshot.vcpus;
    m_memoryMiB = snapshot.memoryMiB;
    m_baseDiskPath = snapshot.baseDiskPath;
    m_restoreAccel = snapshot.accel;
    m_restoreVmmVersion = snapshot.vmmVersion;
    setState(State::Preparing);
    const Core::Future<void> result = m_startPromise.future();
    if (snapshot.diskFile.isEmpty()) {
        boot(snapshot.kernelPath, snapshot.initramfsPath, {}, snapshot.directory);
        return result;
    }
    if (auto ok = ensureDiskDir(); !ok) {
        failStart(ok.error());
        return result;
    }
    const Vmm::DiskSpec disk{QDir(diskDir()).filePath(QStringLiteral("root.") + snapshot.diskFormat), snapshot.diskFormat, false};
    const QString source = QDir(snapshot.directory).filePath(snapshot.diskFile);
    Core::whenDone(Core::runInThread<void>([source, target = disk.path]() { return Image::copyDiskFile(source, target); }), this,
                   [this, disk, snapshot](const Core::Result &copied) {
                       if (m_state != State::Preparing)
                           return; // stopped meanwhile
                       if (!copied) {
                           failStart(copied.error());
                           return;
                       }
                       boot(snapshot.kernelPath, snapshot.initramfsPath, {disk}, snapshot.directory);
                   });
    return result;
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
