#include "core/vmm/chinstance.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/vmm/chapiclient.h"
#include "core/vmm/chvmconfig.h"
#include "core/vmm/vmmfiles.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Vmm {

namespace {

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
    if (auto body = ChVmConfig::vmRestore(directory); !body)
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
    const QDir source(directory);
    QFile configFile(source.filePath(QStringLiteral("config.json")));
    if (!configFile.open(QIODevice::ReadOnly))
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::NotFound, QStringLiteral("cannot read %1: %2").arg(configFile.fileName(), configFile.errorString())));
    const QJsonObject saved = QJsonDocument::fromJson(configFile.readAll()).object();
    auto config = ChVmConfig::retargetSnapshotConfig(saved, m_spec);
    if (!config)
        return Core::readyFuture<void>(config.error());
    // The restore directory lives in this VM's runtime directory: the
    // snapshot itself stays untouched (its files are checksummed).
    const QString restoreDir = QDir(m_spec.runtimeDir).filePath(QStringLiteral("restore"));
    QDir().mkpath(restoreDir);
    const QDir target(restoreDir);
    QFile out(target.filePath(QStringLiteral("config.json")));
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(QJsonDocument(*config).toJson()) < 0)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(out.fileName(), out.errorString())));
    out.close();
    for (const QString &name : {QStringLiteral("state.json"), QStringLiteral("memory-ranges")}) {
        QFile::remove(target.filePath(name));
        if (!QFile::link(source.absoluteFilePath(name), target.filePath(name)))
            return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot link %1 into %2").arg(source.filePath(name), restoreDir)));
    }
    return startFromSnapshot(restoreDir);
}

Core::Future<void> ChInstance::launch(Step next)
{
    if (auto ok = ChVmConfig::validate(m_spec); !ok)
        return Core::readyFuture<void>(ok.error());
    if (!QFileInfo(m_spec.runtimeDir).isDir())
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("runtime directory %1 does not exist").arg(m_spec.runtimeDir)));
    // Its landlock rule must name an existing directory, or vm.create fails.
    if (!m_spec.stateDir.isEmpty())
        if (auto ok = Core::Paths::ensurePrivateDir(m_spec.stateDir); !ok)
            return Core::readyFuture<void>(ok.error());
    // Left by a VMM that crashed: cloud-hypervisor cannot bind its vsock
    // socket over an existing file, nor could we bind the API socket.
    removeSockets();
    const QString program = findExecutable(m_binary);
    if (program.isEmpty())
        return Core::readyFuture<void>(Core::Error(
            Core::ErrorCode::BinaryMissing,
            QStringLiteral("cloud-hypervisor binary '%1' not found; install it or set the binary in the config, or use --driver qemu").arg(m_binary)));

    const Core::Expected<int> listenFd = listenOnUnixSocket(apiSocketPath(), kApiListenBacklog);
    if (!listenFd)
        return Core::readyFuture<void>(listenFd.error());
    const int fd = *listenFd;

    const QStringList args{QStringLiteral("--api-socket"), QStringLiteral("fd=%1").arg(fd)};
    Core::Log::vmm()->info("{}: starting {} {}", m_spec.name.toStdString(), program.toStdString(), args.join(QLatin1Char(' ')).toStdString());
    m_process = new VmmProcess(program, args, ChVmConfig::vmmLogPath(m_spec), this);
    m_process->setInheritedFds({fd});
    connect(m_process, &VmmProcess::finished, this, &ChInstance::onProcessFinished);
    m_api = new ChApiClient(apiSocketPath(), this);

    m_startPromise = Core::Promise<void>();
    setState(State::Starting);
    const Core::Future<void> started = m_process->start();
    // QProcess forks inside start(): the child holds its own copy by now.
    ::close(fd);
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
    const Core::Expected<QJsonObject> config = ChVmConfig::vmCreate(m_spec);
    if (!config) {
        failStart(config.error());
        return;
    }
    startStep(m_api->createVm(*config), [this]() {
        startStep(expectVmState(kVmCreated, ChEndpoint::VmCreate), [this]() {
            // Made with the VM; the guest has not run yet, so nothing is lost.
            readConsole(ChVmConfig::consoleSocketPath(m_spec));
            startStep(m_api->bootVm(), [this]() { startStep(expectVmState(kVmRunning, ChEndpoint::VmBoot), [this]() { startSucceeded(); }); });
        });
    });
}

void ChInstance::restoreAndResume()
{
    if (!m_savedBy.isEmpty() && m_vmmVersion != m_savedBy) {
        failStart(Core::Error(Core::ErrorCode::Unsupported,
                              QStringLiteral("the snapshot was taken by cloud-hypervisor %1 and this is %2; snapshots work only with the same version")
                                  .arg(m_savedBy, m_vmmVersion)));
        return;
    }
    const Core::Expected<QJsonObject> body = ChVmConfig::vmRestore(m_restoreDir);
    if (!body) {
        failStart(body.error());
        return;
    }
    // A restored VM comes back paused.
    startStep(m_api->restoreVm(*body), [this]() {
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
    const Core::Expected<QJsonObject> body = ChVmConfig::vmSnapshot(directory);
    if (!body)
        return Core::readyFuture<void>(body.error());
    if (!QFileInfo(directory).isDir())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::NotFound, QStringLiteral("snapshot directory %1 does not exist").arg(directory)));
    return m_api->snapshotVm(*body);
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
