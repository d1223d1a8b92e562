#include "core/vmm/chinstance.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/chapiclient.h"
#include "core/vmm/chvmconfig.h"
#include "core/vmm/chvmmfiles.h"
#include "core/vmm/vmmfiles.h"
#include "core/vmm/vmmprocess.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Vmm {

namespace {

constexpr qint64 kMiB = 1024 * 1024;

// vm.info "state" values (VmState in the OpenAPI spec).
const QString kVmCreated = QStringLiteral("Created");
const QString kVmRunning = QStringLiteral("Running");
const QString kVmPaused = QStringLiteral("Paused");

QString exitDescription(int exitCode, bool crashed)
{
    return crashed ? QStringLiteral("killed by a signal") : QStringLiteral("exit code %1").arg(exitCode);
}

} // namespace

ChInstance::ChInstance(VmSpec spec, QString binary, QObject *parent)
    : VmmInstance(parent)
    , m_spec(std::move(spec))
    , m_binary(binary.isEmpty() ? QStringLiteral("cloud-hypervisor") : std::move(binary))
{
    m_exitTimer.setSingleShot(true);
    connect(&m_exitTimer, &QTimer::timeout, this, [this]() {
        if (m_state != State::Stopping)
            return;
        Core::Log::vmm()->warn("{}: cloud-hypervisor still runs {} ms after vmm.shutdown, killing it", m_spec.name.toStdString(), kExitTimeoutMs);
        finishShutdown();
    });
}

ChInstance::~ChInstance()
{
    m_destroying = true;
    kill();
    // Children go now, while this object is whole: their pending futures
    // resolve into continuations that still see a ChInstance.
    delete m_api;
    m_api = nullptr;
    delete m_process;
    m_process = nullptr;
}

qint64 ChInstance::pid() const
{
    return m_process ? m_process->pid() : 0;
}

QString ChInstance::apiSocketPath() const
{
    return ChVmConfig::apiSocketPath(m_spec);
}

AgentEndpoint ChInstance::agentEndpoint() const
{
    return AgentEndpoint{ChVmConfig::vsockSocketPath(m_spec), m_spec.agentVsockPort};
}

void ChInstance::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

bool ChInstance::startInProgress() const
{
    return m_state == State::Starting && !m_destroying;
}

QString ChInstance::withOutputTail(const QString &message) const
{
    const QString tail = m_process ? m_process->outputTail() : QString();
    return tail.isEmpty() ? message : message + QStringLiteral(" (cloud-hypervisor: ") + tail + QLatin1Char(')');
}

void ChInstance::removeSockets()
{
    QFile::remove(ChVmConfig::apiSocketPath(m_spec));
    QFile::remove(ChVmConfig::vsockSocketPath(m_spec));
    QFile::remove(ChVmConfig::consoleSocketPath(m_spec));
}

Core::Future<void> ChInstance::start()
{
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    return launch(&ChInstance::createAndBoot);
}

Core::Future<void> ChInstance::startFromSnapshot(const QString &directory)
{
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    if (auto body = ChVmConfig::vmRestore(directory, false, m_spec.nic.has_value()); !body)
        return Core::readyFuture<void>(body.error());
    if (!QFileInfo(directory).isDir())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::NotFound, QStringLiteral("snapshot directory %1 does not exist").arg(directory)));
    m_restoreDir = directory;
    return launch(&ChInstance::restoreAndResume);
}

QStringList ChInstance::stateFiles() const
{
    QStringList files;
    for (const char *f : ChVmConfig::kSnapshotFiles)
        files << QString::fromLatin1(f);
    return files;
}

Core::Future<void> ChInstance::startFromState(const QString &directory, const QString &savedBy)
{
    m_savedBy = savedBy;
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    QFile configFile(QDir(directory).filePath(QStringLiteral("config.json")));
    if (!configFile.open(QIODevice::ReadOnly))
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::NotFound, QStringLiteral("cannot read %1: %2").arg(configFile.fileName(), configFile.errorString())));
    m_savedConfig = QJsonDocument::fromJson(configFile.readAll()).object();
    // Checked now; written with the descriptors in launch().
    if (auto config = ChVmConfig::retargetSnapshotConfig(m_savedConfig, m_spec); !config)
        return Core::readyFuture<void>(config.error());
    m_stateSource = directory;
    m_restoreDir = ChVmConfig::restoreDir(m_spec);
    return launch(&ChInstance::restoreAndResume);
}

// The restore directory lives in the VMM's directory: the snapshot itself
// stays untouched (its files are checksummed). Written before the VMM runs.
Core::Result ChInstance::writeRestoreDir()
{
    auto config = ChVmConfig::retargetSnapshotConfig(m_savedConfig, m_spec, m_passedFds);
    if (!config)
        return config.error();
    constexpr mode_t kRestoreDirMode = 0755; // in the VMM's 0700 directory
    const QByteArray dirName = QFile::encodeName(m_restoreDir);
    // Made afresh: never through a link an earlier VMM could have left in its directory.
    if (QFileInfo(m_restoreDir).isSymLink())
        QFile::remove(m_restoreDir);
    else
        QDir(m_restoreDir).removeRecursively();
    if (::mkdir(dirName.constData(), kRestoreDirMode) != 0 || ::chmod(dirName.constData(), kRestoreDirMode) != 0)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create %1: %2").arg(m_restoreDir, QString::fromLocal8Bit(std::strerror(errno))));
    const QDir target(m_restoreDir);
    QFile out(target.filePath(QStringLiteral("config.json")));
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(QJsonDocument(*config).toJson()) < 0)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(out.fileName(), out.errorString()));
    out.close();
    const QDir source(m_stateSource);
    const int state = m_passedFds ? m_passedFds->restoreState : -1;
    const int memory = m_passedFds ? m_passedFds->restoreMemory : -1;
    for (const auto &[name, fd] : {std::pair{QStringLiteral("state.json"), state}, std::pair{QStringLiteral("memory-ranges"), memory}}) {
        // A descriptor's link resolves in the VMM's own descriptor table.
        const QString linkTarget = fd >= 0 ? ChVmConfig::procFdPath(fd) : source.absoluteFilePath(name);
        if (::symlink(QFile::encodeName(linkTarget).constData(), QFile::encodeName(target.filePath(name)).constData()) != 0)
            return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot link %1 into %2").arg(source.filePath(name), m_restoreDir));
    }
    return {};
}

Core::Result ChInstance::prepareFiles(HeldFds &held)
{
    auto credentials = vmmCredentialsFor(m_spec.name); // its own uid and gid
    if (!credentials)
        return credentials.error();
    m_credentials = *credentials;
    m_passedFds.reset();
    if (m_credentials) {
        auto fds = openChFds(m_spec, *m_credentials, held);
        if (!fds)
            return fds.error();
        if (!m_stateSource.isEmpty())
            if (auto ok = openChRestoreFds(m_stateSource, *m_credentials, held, *fds); !ok)
                return ok;
        m_passedFds = *fds;
    } else {
        if (auto ok = prepareChVmmDir(ChVmConfig::vmmDir(m_spec), std::nullopt); !ok)
            return ok;
        // Its landlock rule must name an existing directory, or vm.create fails.
        if (!m_spec.stateDir.isEmpty())
            if (auto ok = Core::Paths::ensurePrivateDir(m_spec.stateDir); !ok)
                return ok;
    }
    return m_stateSource.isEmpty() ? Core::Result() : writeRestoreDir();
}

Core::Future<void> ChInstance::launch(Step next)
{
    if (auto ok = ChVmConfig::validate(m_spec); !ok)
        return Core::readyFuture<void>(ok.error());
    if (!QFileInfo(m_spec.runtimeDir).isDir())
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("runtime directory %1 does not exist").arg(m_spec.runtimeDir)));
    // Left by a VMM that crashed: cloud-hypervisor cannot bind its vsock
    // socket over an existing file, nor could we bind the API socket.
    removeSockets();
    const QString program = findExecutable(m_binary);
    if (program.isEmpty())
        return Core::readyFuture<void>(Core::Error(
            Core::ErrorCode::BinaryMissing,
            QStringLiteral("cloud-hypervisor binary '%1' not found; install it or set the binary in the config, or use --driver qemu").arg(m_binary)));

    HeldFds held; // our copies of what the VMM inherits, closed once it has started
    if (auto ok = prepareFiles(held); !ok) {
        removeSockets();
        return Core::readyFuture<void>(ok.error());
    }
    const Core::Expected<int> listenFd = listenOnUnixSocket(apiSocketPath(), kApiListenBacklog);
    if (!listenFd)
        return Core::readyFuture<void>(listenFd.error());
    const int fd = held.keep(*listenFd);

    const QStringList args = ChVmConfig::commandLine(fd);
    Core::Log::vmm()->info("{}: starting {}{} {}", m_spec.name.toStdString(), program.toStdString(),
                           m_credentials ? " as " + describe(*m_credentials).toStdString() : std::string(), args.join(QLatin1Char(' ')).toStdString());
    m_process = new VmmProcess(program, args, ChVmConfig::vmmLogPath(m_spec), this);
    m_process->setCredentials(m_credentials);
    m_process->setInheritedFds(QList<int>{fd} + (m_passedFds ? m_passedFds->all() : QList<int>()));
    connect(m_process, &VmmProcess::finished, this, &ChInstance::onProcessFinished);
    m_api = new ChApiClient(apiSocketPath(), this);

    m_startPromise = Core::Promise<void>();
    setState(State::Starting);
    const Core::Future<void> started = m_process->start();
    // QProcess forks inside start(): the child holds its own copies by now.
    held.closeAll();
    startStep(started, [this, next]() {
        // Calls made now wait in the socket's backlog until the API server runs.
        m_api->ping(kApiReadyTimeoutMs).then(this, [this, next](const Core::Expected<QJsonObject> &pong) {
            if (!startInProgress())
                return;
            if (!pong) {
                failStartSoon(Core::Error(pong.error().code, withOutputTail(pong.error().message)));
                return;
            }
            m_vmmVersion = pong->value(QStringLiteral("version")).toString();
            Core::Log::vmm()->info("{}: cloud-hypervisor {} is up (pid {})", m_spec.name.toStdString(), m_vmmVersion.toStdString(), pid());
            (this->*next)();
        });
    });
    return m_startPromise.future();
}

void ChInstance::startStep(Core::Future<void> f, std::function<void()> next)
{
    f.then(this, [this, next = std::move(next)](const Core::Result &r) {
        if (!startInProgress())
            return; // failed, stopped or killed meanwhile: already reported
        if (!r) {
            failStartSoon(r.error());
            return;
        }
        next();
    });
}

void ChInstance::failStartSoon(const Core::Error &error)
{
    if (error.code != Core::ErrorCode::VmmFailed) {
        failStart(error);
        return;
    }
    // The API connection died: the VMM most likely exited, and its exit
    // (reported a moment later) makes the better message.
    QTimer::singleShot(kExitReportGraceMs, this, [this, error]() {
        if (startInProgress())
            failStart(error);
    });
}

Core::Future<void> ChInstance::expectVmState(const QString &expected, const char *after)
{
    const QString call = QString::fromLatin1(after);
    return m_api->vmState().then([expected, call](const Core::Expected<QString> &state) -> Core::Result {
        if (!state)
            return state.error();
        if (*state != expected)
            return Core::Error(Core::ErrorCode::VmmApi,
                               QStringLiteral("cloud-hypervisor reports the VM as '%1' after %2, expected '%3'").arg(*state, call, expected));
        return {};
    });
}

void ChInstance::createAndBoot()
{
    const Core::Expected<QJsonObject> config = ChVmConfig::vmCreate(m_spec, m_passedFds);
    if (!config) {
        failStart(config.error());
        return;
    }
    startStep(m_api->createVm(*config), [this]() {
        startStep(expectVmState(kVmCreated, ChEndpoint::VmCreate), [this]() {
            // Made with the VM; the guest has not run yet, so nothing is lost.
            readConsole(ChVmConfig::consoleSocketPath(m_spec));
            addNicAndBoot();
        });
    });
}

// The NIC joins the created VM's config with its tap (vm.create takes no
// descriptors), then the VM boots.
void ChInstance::addNicAndBoot()
{
    auto boot = [this]() {
        startStep(m_api->bootVm(), [this]() { startStep(expectVmState(kVmRunning, ChEndpoint::VmBoot), [this]() { startSucceeded(); }); });
    };
    if (!m_spec.nic) {
        boot();
        return;
    }
    const Core::Expected<QJsonObject> net = ChVmConfig::vmAddNet(m_spec);
    if (!net) {
        failStart(net.error());
        return;
    }
    startStep(m_api->addNet(*net, m_spec.nic->tapFd), boot);
}

void ChInstance::restoreAndResume()
{
    if (!m_savedBy.isEmpty() && m_vmmVersion != m_savedBy) {
        failStart(Core::Error(Core::ErrorCode::Unsupported,
                              QStringLiteral("the snapshot was taken by cloud-hypervisor %1 and this is %2; snapshots work only with the same version")
                                  .arg(m_savedBy, m_vmmVersion)));
        return;
    }
    // startFromState's directory is the VMM's (by descriptor when it runs as another user).
    const QString source = m_stateSource.isEmpty() ? m_restoreDir : ChVmConfig::vmmPath(m_spec, m_restoreDir, m_passedFds);
    const Core::Expected<QJsonObject> body = ChVmConfig::vmRestore(source, false, m_spec.nic.has_value());
    if (!body) {
        failStart(body.error());
        return;
    }
    // A restored VM comes back paused. Its NIC gets this start's tap.
    const QList<int> taps = m_spec.nic ? QList<int>{m_spec.nic->tapFd} : QList<int>{};
    startStep(m_api->restoreVm(*body, ChApiClient::kRestoreTimeoutMs, taps), [this]() {
        startStep(expectVmState(kVmPaused, ChEndpoint::VmRestore), [this]() {
            readConsole(ChVmConfig::consoleSocketPath(m_spec));
            startStep(m_api->resumeVm(), [this]() { startStep(expectVmState(kVmRunning, ChEndpoint::VmResume), [this]() { startSucceeded(); }); });
        });
    });
}

void ChInstance::startSucceeded()
{
    Core::Log::vmm()->info("{}: VM running", m_spec.name.toStdString());
    setState(State::Running);
    m_startPromise.resolve({});
}

void ChInstance::failStart(const Core::Error &error)
{
    if (m_state != State::Starting)
        return;
    Core::Log::vmm()->warn("{}: start failed: {}", m_spec.name.toStdString(), error.toString().toStdString());
    setState(State::Failed);
    m_exitTimer.stop();
    if (m_api)
        m_api->abort(Core::ErrorCode::Cancelled, QStringLiteral("the VM failed to start"));
    if (m_process)
        m_process->kill(); // reaps; onProcessFinished sees Failed and leaves it
    removeSockets();
    m_startPromise.resolve(error);
}

Core::Future<void> ChInstance::pause()
{
    if (m_state != State::Running)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a running VM can be paused (it is %1)").arg(stateName(m_state))));
    Core::Promise<void> promise;
    m_api->pauseVm().then(this, [this, promise](const Core::Result &paused) {
        if (!paused) {
            promise.resolve(paused.error());
            return;
        }
        expectVmState(kVmPaused, ChEndpoint::VmPause).then(this, [this, promise](const Core::Result &ok) {
            if (ok && m_state == State::Running)
                setState(State::Paused);
            promise.resolve(ok);
        });
    });
    return promise.future();
}

Core::Future<qint64> ChInstance::setMemory(qint64 targetMiB)
{
    if (auto ok = checkMemoryTarget(targetMiB); !ok)
        return Core::readyFuture<qint64>(ok.error());
    auto body = ChVmConfig::vmResize({0, 0, m_spec.memoryMiB - targetMiB});
    if (!body)
        return Core::readyFuture<qint64>(body.error());
    return Core::then(m_api->resizeVm(*body), this, [this, targetMiB]() { return awaitMemory(targetMiB, kBalloonTimeoutMs, kBalloonPollIntervalMs); });
}

// vm.info's memory_actual_size: the VM's memory less the balloon.
Core::Future<qint64> ChInstance::memory()
{
    if (!m_api || m_state != State::Running)
        return Core::readyFuture<qint64>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("cloud-hypervisor is not running a VM")));
    return Core::then(m_api->vmInfo(), this,
                      [](const QJsonObject &info) -> Core::Expected<qint64> { return info.value(QStringLiteral("memory_actual_size")).toInteger() / kMiB; });
}

// vm.resize's desired_vcpus, up to the config's max_vcpus (ChVmConfig::cpus).
Core::Future<int> ChInstance::setVcpus(int count)
{
    if (auto ok = checkVcpuTarget(count); !ok)
        return Core::readyFuture<int>(ok.error());
    auto body = ChVmConfig::vmResize({count, 0, std::nullopt});
    if (!body)
        return Core::readyFuture<int>(body.error());
    return Core::then(m_api->resizeVm(*body), this, [this, count]() { return awaitVcpus(count, kCpuResizeTimeoutMs, kCpuPollIntervalMs); });
}

// vm.info's config.cpus.boot_vcpus, which vm.resize keeps at the VM's count.
Core::Future<int> ChInstance::vcpus()
{
    if (!m_api || m_state != State::Running)
        return Core::readyFuture<int>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("cloud-hypervisor is not running a VM")));
    return Core::then(m_api->vmInfo(), this, [](const QJsonObject &info) -> Core::Expected<int> {
        return info.value(QStringLiteral("config")).toObject().value(QStringLiteral("cpus")).toObject().value(QStringLiteral("boot_vcpus")).toInt();
    });
}

Core::Future<void> ChInstance::resume()
{
    if (m_state != State::Paused)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a paused VM can be resumed (it is %1)").arg(stateName(m_state))));
    Core::Promise<void> promise;
    m_api->resumeVm().then(this, [this, promise](const Core::Result &resumed) {
        if (!resumed) {
            promise.resolve(resumed.error());
            return;
        }
        expectVmState(kVmRunning, ChEndpoint::VmResume).then(this, [this, promise](const Core::Result &ok) {
            if (ok && m_state == State::Paused)
                setState(State::Running);
            promise.resolve(ok);
        });
    });
    return promise.future();
}

Core::Future<void> ChInstance::snapshot(const QString &directory)
{
    if (m_state != State::Paused)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a paused VM can be snapshotted (it is %1)").arg(stateName(m_state))));
    const Core::Expected<QString> where = ChVmConfig::vmmSnapshotDir(m_spec, directory, m_passedFds);
    if (!where)
        return Core::readyFuture<void>(where.error());
    const Core::Expected<QJsonObject> body = ChVmConfig::vmSnapshot(*where);
    if (!body)
        return Core::readyFuture<void>(body.error());
    if (!QFileInfo(directory).isDir())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::NotFound, QStringLiteral("snapshot directory %1 does not exist").arg(directory)));
    if (!m_passedFds || !m_credentials)
        return m_api->snapshotVm(*body);
    // The VMM user's while it writes the snapshot's files (they stay its,
    // readable by it for a restore); the service's again afterwards.
    const VmmCredentials creds = *m_credentials;
    if (auto ok = lendDirectory(directory, creds, true); !ok)
        return Core::readyFuture<void>(ok.error());
    Core::Promise<void> promise;
    m_api->snapshotVm(*body).then([directory, creds, promise](const Core::Result &r) {
        const Core::Result back = lendDirectory(directory, creds, false);
        promise.resolve(r ? back : r);
    });
    return promise.future();
}

Core::Future<void> ChInstance::shutdown()
{
    switch (m_state) {
    case State::NotStarted:
    case State::Stopped:
    case State::Failed:
        if (m_process)
            m_process->kill();
        if (m_state != State::NotStarted)
            removeSockets();
        setState(State::Stopped);
        return Core::readyFuture();
    case State::Stopping: return m_shutdownPromise.future();
    case State::Starting:
    case State::Running:
    case State::Paused: break;
    }
    const bool wasStarting = m_state == State::Starting;
    m_shutdownPromise = Core::Promise<void>();
    const Core::Future<void> done = m_shutdownPromise.future();
    setState(State::Stopping);
    if (wasStarting) {
        // Do not wait behind a pending vm.create or vm.boot.
        m_api->abort(Core::ErrorCode::Cancelled, QStringLiteral("the VM is being shut down"));
        m_startPromise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the VM was shut down while starting"));
    }
    if (!m_process || !m_process->isRunning()) {
        finishShutdown();
        return done;
    }
    // Best effort: stop the guest cleanly; vmm.shutdown follows regardless.
    m_api->shutdownVm(kVmShutdownTimeoutMs).then(this, [this](const Core::Result &r) {
        if (m_state != State::Stopping || m_destroying || m_finishingShutdown)
            return; // finishShutdown's abort() fails this call: the VMM is gone already
        if (!r)
            Core::Log::vmm()->info("{}: vm.shutdown: {}", m_spec.name.toStdString(), r.error().message.toStdString());
        stopVmm();
    });
    return done;
}

void ChInstance::stopVmm()
{
    // The process may exit before it answers; the exit itself is what counts.
    m_exitTimer.start(kExitTimeoutMs);
    m_api->shutdownVmm(kExitTimeoutMs).then(this, [this](const Core::Result &r) {
        if (!r && m_state == State::Stopping)
            Core::Log::vmm()->info("{}: vmm.shutdown: {}", m_spec.name.toStdString(), r.error().message.toStdString());
    });
}

void ChInstance::finishShutdown()
{
    if (m_state != State::Stopping || m_finishingShutdown)
        return;
    m_finishingShutdown = true;
    m_exitTimer.stop();
    if (m_process)
        m_process->kill(); // no-op when it exited; SIGKILL and reap otherwise
    if (m_api)
        m_api->abort(Core::ErrorCode::Cancelled, QStringLiteral("the VMM was stopped"));
    removeSockets();
    m_finishingShutdown = false;
    setState(State::Stopped);
    m_startPromise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the VM was stopped while starting"));
    m_shutdownPromise.resolve({});
}

void ChInstance::kill()
{
    switch (m_state) {
    case State::NotStarted: return;
    case State::Starting:
    case State::Running:
    case State::Paused:
        setState(State::Stopping); // so the exit is not reported as unexpected
        [[fallthrough]];
    case State::Stopping: finishShutdown(); return;
    case State::Stopped:
    case State::Failed:
        if (m_process)
            m_process->kill();
        removeSockets();
        return;
    }
}

void ChInstance::onProcessFinished(int exitCode, bool crashed)
{
    switch (m_state) {
    case State::Starting:
        failStart(Core::Error(Core::ErrorCode::VmmFailed,
                              withOutputTail(QStringLiteral("cloud-hypervisor exited during start (%1)").arg(exitDescription(exitCode, crashed)))));
        return;
    case State::Stopping: finishShutdown(); return;
    case State::Running:
    case State::Paused: {
        // With an API socket, cloud-hypervisor exits when the guest powers off.
        const bool clean = !crashed && exitCode == 0;
        const QString reason = clean ? QStringLiteral("cloud-hypervisor exited: the guest powered off")
                                     : withOutputTail(QStringLiteral("cloud-hypervisor exited unexpectedly (%1)").arg(exitDescription(exitCode, crashed)));
        Core::Log::vmm()->warn("{}: {}", m_spec.name.toStdString(), reason.toStdString());
        if (m_api)
            m_api->abort(Core::ErrorCode::VmmFailed, QStringLiteral("cloud-hypervisor exited"));
        removeSockets();
        setState(clean ? State::Stopped : State::Failed);
        Q_EMIT exitedUnexpectedly(Core::Error(Core::ErrorCode::VmmFailed, reason));
        return;
    }
    case State::NotStarted:
    case State::Stopped:
    case State::Failed: removeSockets(); return;
    }
}

} // namespace Vmm
