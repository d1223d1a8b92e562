#include "core/vmm/qemuinstance.h"

#include "core/log.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/qmpclient.h"
#include "core/vmm/vmmfiles.h"
#include "core/vmm/vmmprocess.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace Vmm {

namespace {
constexpr qint64 kMiB = 1024 * 1024;
}

QemuInstance::QemuInstance(VmSpec spec, QString binary, QObject *parent)
    : VmmInstance(parent)
    , m_spec(std::move(spec))
    , m_binary(std::move(binary))
    , m_accel(m_spec.accel == QLatin1String("kvm") ? QemuCommandLine::Accel::Kvm : QemuCommandLine::Accel::Tcg)
{
}

QemuInstance::~QemuInstance()
{
    kill();
}

qint64 QemuInstance::pid() const
{
    return m_process ? m_process->pid() : 0;
}

QStringList QemuInstance::commandLine() const
{
    return QStringList{m_binary}
    + QemuCommandLine::build(m_spec, m_accel, m_incomingFile.isEmpty() ? QemuCommandLine::Boot::Fresh : QemuCommandLine::Boot::Incoming, m_passedFds);
}

AgentEndpoint QemuInstance::agentEndpoint() const
{
    return AgentEndpoint{QemuCommandLine::agentSocketPath(m_spec), 0};
}

void QemuInstance::setState(State s)
{
    if (m_state == s)
        return;
    m_state = s;
    Q_EMIT stateChanged(s);
}

Core::Future<void> QemuInstance::start()
{
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    if (auto ok = QemuCommandLine::validate(m_spec); !ok)
        return Core::readyFuture<void>(ok.error());
    if (!QDir(m_spec.runtimeDir).exists())
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("runtime directory %1 does not exist").arg(m_spec.runtimeDir)));
    auto credentials = vmmCredentialsFor(m_spec.name); // its own uid and gid
    if (!credentials)
        return Core::readyFuture<void>(credentials.error());
    m_credentials = *credentials;
    removeSockets(); // stale sockets from a crashed run would make QEMU fail to bind

    setState(State::Starting);
    m_startPromise = Core::Promise<void>();
    // whenDone, not then(this): the probe runs on a worker thread and may
    // answer after this instance was killed and deleted (a VM removed while
    // it starts), where a context-bound then() asserts.
    Core::whenDone(resolveQemuAccel(m_binary, m_spec.accel, m_spec.kernelPath, m_credentials), this,
                   [this](const Core::Expected<QemuCommandLine::Accel> &accel) {
                       if (m_state != State::Starting)
                           return; // killed meanwhile
                       if (!accel) {
                           setState(State::Failed);
                           m_startPromise.resolve(accel.error());
                           return;
                       }
                       m_accel = *accel;
                       spawn();
                   });
    return m_startPromise.future();
}

// A QEMU that runs as another user gets everything it needs as
// descriptors: this process's copies are closed once it has started.
void QemuInstance::spawn()
{
    HeldFds held;
    m_passedFds.reset();
    if (m_credentials) {
        auto fds = openQemuFds(m_spec, *m_credentials, held);
        if (!fds) {
            setState(State::Failed);
            removeSockets();
            m_startPromise.resolve(fds.error());
            return;
        }
        m_passedFds = *fds;
    }
    const QStringList args = commandLine().mid(1);
    Core::Log::vmm()->info("{}: starting {}{} {}", m_spec.name.toStdString(), m_binary.toStdString(),
                           m_credentials ? " as " + describe(*m_credentials).toStdString() : std::string(), args.join(QLatin1Char(' ')).toStdString());

    m_process = new VmmProcess(m_binary, args, QDir(m_spec.runtimeDir).filePath(QStringLiteral("vmm.log")), this);
    m_process->setPersistent(m_spec.persistent);
    m_process->setCredentials(m_credentials);
    m_process->setInheritedFds(QemuCommandLine::inheritedFds(m_spec, m_passedFds));
    connect(m_process, &VmmProcess::finished, this, &QemuInstance::onProcessFinished);
    const qint64 deadline = QDateTime::currentMSecsSinceEpoch() + kQmpSocketTimeoutMs;
    auto started = m_process->start(); // forks and execs now: QEMU has its copies
    held.closeAll();
    started.then(this, [this, deadline](const Core::Result &r) {
        if (!r) {
            setState(State::Failed);
            m_startPromise.resolve(r.error());
            return;
        }
        tryConnectQmp(m_startPromise, deadline);
    });
}

// QEMU creates the QMP socket early during startup; poll for it briefly,
// giving up when the process dies or the deadline passes.
void QemuInstance::tryConnectQmp(Core::Promise<void> promise, qint64 deadline)
{
    if (promise.isResolved())
        return;
    if (!m_process->isRunning())
        return; // onProcessFinished resolves the promise with the VMM's output
    if (QDateTime::currentMSecsSinceEpoch() > deadline) {
        setState(State::Failed);
        promise.fail(Core::ErrorCode::Timeout, QStringLiteral("QEMU did not open its QMP socket within %1 ms").arg(kQmpSocketTimeoutMs));
        m_process->kill();
        return;
    }
    if (!QFile::exists(QemuCommandLine::qmpSocketPath(m_spec))) {
        QTimer::singleShot(kQmpPollIntervalMs, this, [this, promise, deadline]() { tryConnectQmp(promise, deadline); });
        return;
    }
    if (!m_qmp) {
        m_qmp = new QmpClient(this);
        connect(m_qmp, &QmpClient::qmpEvent, this, [this](const QString &name, const QJsonObject &data) {
            if (name == QLatin1String("SHUTDOWN") && data.value(QStringLiteral("guest")).toBool())
                m_guestShutdown = true;
            else if (name == QLatin1String("STOP") && m_state == State::Running)
                setState(State::Paused);
            else if (name == QLatin1String("RESUME") && m_state == State::Paused)
                setState(State::Running);
        });
    }
    m_qmp->connectTo(QemuCommandLine::qmpSocketPath(m_spec)).then(this, [this, promise, deadline](const Core::Result &r) {
        if (promise.isResolved())
            return;
        if (!r) {
            // The socket file can exist a moment before QEMU listens on it.
            QTimer::singleShot(kQmpPollIntervalMs, this, [this, promise, deadline]() { tryConnectQmp(promise, deadline); });
            return;
        }
        // QEMU made its console socket before the QMP one. What the guest
        // wrote before this connects is lost (QEMU drops it with no client):
        // QEMU's own startup, before the guest kernel prints. An adopted VM's
        // console is read again from here on.
        readConsole(QemuCommandLine::consoleSocketPath(m_spec));
        m_qmp->execute(QStringLiteral("query-status")).then(this, [this, promise](const Core::Expected<QJsonObject> &st) {
            if (promise.isResolved())
                return;
            if (!st) {
                setState(State::Failed);
                promise.resolve(st.error());
                return;
            }
            const QString status = st->value(QStringLiteral("status")).toString();
            if (!m_incomingFile.isEmpty()) {
                if (status != QLatin1String("inmigrate")) {
                    setState(State::Failed);
                    promise.fail(Core::ErrorCode::VmmFailed,
                                 QStringLiteral("QEMU reports status '%1' before loading a state, expected 'inmigrate'").arg(status));
                    m_process->kill();
                    return;
                }
                loadState(promise);
                return;
            }
            if (m_adopting && status == QLatin1String("paused")) {
                setState(State::Paused);
                promise.resolve({});
                return;
            }
            if (status != QLatin1String("running")) {
                setState(State::Failed);
                promise.fail(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU reports status '%1' after start, expected 'running'").arg(status));
                return;
            }
            setState(State::Running);
            promise.resolve({});
        });
    });
}

Core::Future<void> QemuInstance::expectStatus(const QString &command, const QString &expected, State target)
{
    const auto sent = Core::then(m_qmp->execute(command), this, [this](const QJsonObject &) { return m_qmp->execute(QStringLiteral("query-status")); });
    return Core::then(sent, this, [this, expected, target](const QJsonObject &st) -> Core::Result {
        const QString status = st.value(QStringLiteral("status")).toString();
        if (status != expected)
            return Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU reports status '%1', expected '%2'").arg(status, expected));
        setState(target);
        return {};
    });
}

Core::Future<void> QemuInstance::pause()
{
    if (m_state != State::Running)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a running VM can be paused (it is %1)").arg(stateName(m_state))));
    return expectStatus(QStringLiteral("stop"), QStringLiteral("paused"), State::Paused);
}

Core::Future<void> QemuInstance::resume()
{
    if (m_state != State::Paused)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a paused VM can be resumed (it is %1)").arg(stateName(m_state))));
    return expectStatus(QStringLiteral("cont"), QStringLiteral("running"), State::Running);
}

Core::Future<void> QemuInstance::shutdown()
{
    if (!m_process || !m_process->isRunning()) {
        kill();
        return Core::readyFuture();
    }
    if (m_state == State::Stopping)
        return m_shutdownPromise.future();
    setState(State::Stopping);
    m_shutdownPromise = Core::Promise<void>();
    if (m_qmp && m_qmp->isReady())
        m_qmp->execute(QStringLiteral("quit"));
    else
        m_process->kill();
    // onProcessFinished resolves the promise; this bounds the wait.
    QTimer::singleShot(kQuitTimeoutMs, this, [this, promise = m_shutdownPromise]() {
        if (promise.isResolved())
            return;
        Core::Log::vmm()->warn("{}: QEMU ignored 'quit' for {} ms, killing it", m_spec.name.toStdString(), kQuitTimeoutMs);
        kill();
    });
    return m_shutdownPromise.future();
}

// QEMU never opens the state file itself: this process opens it and passes
// the descriptor over QMP (getfd), so QEMU's sandbox may deny spawning (the
// exec: URI ran a shell) and QEMU needs no access to the snapshot directory.
Core::Future<void> QemuInstance::passStateFd(const QString &file, int flags)
{
    const QByteArray path = QFile::encodeName(file);
    const int fd = ::open(path.constData(), flags | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot open %1: %2").arg(file, QString::fromLocal8Bit(std::strerror(errno)))));
    auto passed = migratesThroughFdSet()
        ? m_qmp->executeWithFd(QStringLiteral("add-fd"), QJsonObject{{QStringLiteral("fdset-id"), kStateFdSet}}, fd)
        : m_qmp->executeWithFd(QStringLiteral("getfd"), QJsonObject{{QStringLiteral("fdname"), QString::fromLatin1(kStateFdName)}}, fd);
    ::close(fd); // QEMU holds its own copy once the command is sent
    return Core::then(passed, this, [](const QJsonObject &) -> Core::Result { return {}; });
}

bool QemuInstance::migratesThroughFdSet() const
{
    return vmmVersion().section(QLatin1Char('.'), 0, 0).toInt() >= kFileUriMajor;
}

QString QemuInstance::stateFdUri() const
{
    if (migratesThroughFdSet())
        return QStringLiteral("file:/dev/fdset/%1,offset=0").arg(kStateFdSet);
    return QStringLiteral("fd:") + QString::fromLatin1(kStateFdName);
}

// An fd set keeps its descriptor until it is removed (fd: consumes its
// own): the state file is closed in QEMU once a save or load ended, and the
// next one finds the set empty.
void QemuInstance::releaseStateFd()
{
    if (migratesThroughFdSet() && m_qmp && m_qmp->isReady())
        m_qmp->execute(QStringLiteral("remove-fd"), QJsonObject{{QStringLiteral("fdset-id"), kStateFdSet}});
}

void QemuInstance::endSave()
{
    m_saving = false;
    releaseStateFd();
}

Core::Future<void> QemuInstance::saveState(const QString &directory)
{
    if (m_state != State::Paused || !m_qmp || !m_qmp->isReady())
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a paused VM's state can be saved (it is %1)").arg(stateName(m_state))));
    if (!QDir::isAbsolutePath(directory) || !QDir(directory).exists())
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the state directory %1 must be an existing absolute path").arg(directory)));
    const QString file = QDir(directory).filePath(QString::fromLatin1(kStateFile));
    Core::Promise<void> promise;
    // No bandwidth cap (QEMU's default is 128 MiB/s, meant for live
    // migration over a network); the VM is paused, so it is one pass.
    const QJsonObject params{{QStringLiteral("max-bandwidth"), static_cast<qint64>(1) << 40}};
    m_qmp->execute(QStringLiteral("migrate-set-parameters"), params).then(this, [this, promise, file](const Core::Expected<QJsonObject> &set) {
        if (!set) {
            promise.resolve(set.error());
            return;
        }
        const QJsonObject args{{QStringLiteral("uri"), stateFdUri()}};
        auto sent =
            Core::then(passStateFd(file, O_WRONLY | O_CREAT | O_TRUNC), this, [this, args]() { return m_qmp->execute(QStringLiteral("migrate"), args); });
        sent.then(this, [this, promise](const Core::Expected<QJsonObject> &started) {
            if (!started) {
                promise.resolve(started.error());
                return;
            }
            m_saving = true;
            pollMigration(promise, QDateTime::currentMSecsSinceEpoch() + kSaveTimeoutMs);
        });
    });
    return promise.future();
}

bool QemuInstance::cancelSaveState()
{
    if (!m_saving || !m_qmp || !m_qmp->isReady())
        return false;
    m_qmp->execute(QStringLiteral("migrate_cancel"));
    return true; // pollMigration sees "cancelled"
}

void QemuInstance::pollMigration(Core::Promise<void> promise, qint64 deadline)
{
    if (!m_qmp || !m_qmp->isReady()) {
        m_saving = false;
        promise.fail(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU went away while saving the VM's state"));
        return;
    }
    m_qmp->execute(QStringLiteral("query-migrate")).then(this, [this, promise, deadline](const Core::Expected<QJsonObject> &r) {
        if (!r) {
            endSave();
            promise.resolve(r.error());
            return;
        }
        const QString status = r->value(QStringLiteral("status")).toString();
        if (status == QLatin1String("completed")) {
            endSave();
            promise.resolve({});
            return;
        }
        if (status == QLatin1String("cancelled")) {
            endSave();
            promise.fail(Core::ErrorCode::Cancelled, QStringLiteral("saving the VM's state was cancelled"));
            return;
        }
        if (status == QLatin1String("failed")) {
            endSave();
            const QString why = r->value(QStringLiteral("error-desc")).toString();
            promise.fail(Core::ErrorCode::Io,
                         QStringLiteral("QEMU could not save the VM's state (%1)%2").arg(status, why.isEmpty() ? QString() : QStringLiteral(": ") + why));
            return;
        }
        if (QDateTime::currentMSecsSinceEpoch() > deadline) {
            endSave();
            m_qmp->execute(QStringLiteral("migrate_cancel"));
            promise.fail(Core::ErrorCode::Timeout, QStringLiteral("saving the VM's state took longer than %1 s").arg(kSaveTimeoutMs / 1000));
            return;
        }
        QTimer::singleShot(kMigratePollIntervalMs, this, [this, promise, deadline]() { pollMigration(promise, deadline); });
    });
}

Core::Future<qint64> QemuInstance::setMemory(qint64 targetMiB)
{
    if (auto ok = checkMemoryTarget(targetMiB); !ok || !m_qmp || !m_qmp->isReady())
        return Core::readyFuture<qint64>(ok ? Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("QEMU is not answering")) : ok.error());
    const auto asked = m_qmp->execute(QStringLiteral("balloon"), QJsonObject{{QStringLiteral("value"), targetMiB * kMiB}});
    return Core::then(asked, this, [this, targetMiB](const QJsonObject &) { return awaitMemory(targetMiB, kBalloonTimeoutMs, kBalloonPollIntervalMs); });
}

// query-balloon's "actual": what the guest has, boot size less the balloon.
Core::Future<qint64> QemuInstance::memory()
{
    if (!m_qmp || !m_qmp->isReady())
        return Core::readyFuture<qint64>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("QEMU is not running")));
    return Core::then(m_qmp->execute(QStringLiteral("query-balloon")), this,
                      [](const QJsonObject &b) -> Core::Expected<qint64> { return b.value(QStringLiteral("actual")).toInteger() / kMiB; });
}

Core::Future<QList<QemuCpus::Slot>> QemuInstance::cpuSlots()
{
    if (!m_qmp || !m_qmp->isReady())
        return Core::readyFuture<QList<QemuCpus::Slot>>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("QEMU is not answering")));
    return Core::then(m_qmp->execute(QStringLiteral("query-hotpluggable-cpus")), this, [](const QJsonObject &answer) { return QemuCpus::parse(answer); });
}

Core::Future<int> QemuInstance::vcpus()
{
    return Core::then(cpuSlots(), this, [](const QList<QemuCpus::Slot> &slots) -> Core::Expected<int> { return QemuCpus::present(slots); });
}

// Added vCPUs are there once device_add answered. None are removed:
// QEMU 7.2 (TCG, here) corrupts its heap when a vCPU is ejected (device_del,
// which the guest follows) and aborts at the next vCPU change or
// migration, losing the VM; a stopped VM's count is lowered for its next
// start instead.
Core::Future<int> QemuInstance::setVcpus(int count)
{
    if (auto ok = checkVcpuTarget(count); !ok)
        return Core::readyFuture<int>(ok.error());
    return Core::then(cpuSlots(), this, [this, count](const QList<QemuCpus::Slot> &slots) -> Core::Future<int> {
        auto plan = QemuCpus::plan(slots, count);
        if (!plan)
            return Core::readyFuture<int>(plan.error());
        if (!plan->remove.isEmpty())
            return Core::readyFuture<int>(Core::Error(Core::ErrorCode::Unsupported,
                                                      QStringLiteral("QEMU cannot remove vCPUs from a running VM without corrupting its own memory (%1 now, %2 "
                                                                     "asked for): lower vcpus while the VM is stopped, for its next start")
                                                          .arg(QemuCpus::present(slots))
                                                          .arg(count)));
        return Core::then(addCpus(plan->add), this, [this, count]() { return awaitVcpus(count, kCpuPlugTimeoutMs, kCpuPollIntervalMs); });
    });
}

// One device_add after another, each once QEMU answered the one before.
Core::Future<void> QemuInstance::addCpus(QList<QJsonObject> devices)
{
    if (devices.isEmpty())
        return Core::readyFuture();
    if (!m_qmp || !m_qmp->isReady())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("QEMU is not answering")));
    const auto sent = m_qmp->execute(QStringLiteral("device_add"), devices.takeFirst());
    return Core::then(sent, this, [this, devices](const QJsonObject &) { return addCpus(devices); });
}

QString QemuInstance::vmmVersion() const
{
    return m_qmp ? m_qmp->qemuVersion() : QString();
}

Core::Future<void> QemuInstance::startFromState(const QString &directory, const QString &savedBy)
{
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    const QString file = QDir(directory).filePath(QString::fromLatin1(kStateFile));
    if (!QDir::isAbsolutePath(directory) || !QFileInfo(file).isFile())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no saved state at %1").arg(file)));
    if (m_spec.accel != QLatin1String("kvm") && m_spec.accel != QLatin1String("tcg"))
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidArgument,
                        QStringLiteral("a saved state is loaded with the accelerator it was saved with (kvm or tcg), not '%1'").arg(m_spec.accel)));
    m_incomingFile = file;
    m_savedBy = savedBy;
    return start();
}

// QEMU waits in "inmigrate"; feed it the file, wait for "paused", run it.
// A state QEMU cannot load makes it exit, which fails the start with its
// own message (onProcessFinished).
void QemuInstance::loadState(Core::Promise<void> promise)
{
    if (!m_savedBy.isEmpty() && vmmVersion() != m_savedBy) {
        setState(State::Failed);
        promise.fail(Core::ErrorCode::Unsupported,
                     QStringLiteral("the state was saved by QEMU %1 and this is QEMU %2, which cannot load it reliably")
                         .arg(m_savedBy, vmmVersion().isEmpty() ? QStringLiteral("of an unknown version") : vmmVersion()));
        m_process->kill();
        return;
    }
    const QJsonObject args{{QStringLiteral("uri"), stateFdUri()}};
    auto sent = Core::then(passStateFd(m_incomingFile, O_RDONLY), this, [this, args]() { return m_qmp->execute(QStringLiteral("migrate-incoming"), args); });
    sent.then(this, [this, promise](const Core::Expected<QJsonObject> &r) {
        if (promise.isResolved())
            return;
        if (!r) {
            setState(State::Failed);
            promise.resolve(r.error());
            m_process->kill();
            return;
        }
        pollIncoming(promise, QDateTime::currentMSecsSinceEpoch() + kRestoreTimeoutMs);
    });
}

void QemuInstance::pollIncoming(Core::Promise<void> promise, qint64 deadline)
{
    if (promise.isResolved() || !m_qmp || !m_qmp->isReady())
        return; // onProcessFinished resolves the promise when QEMU gave up
    m_qmp->execute(QStringLiteral("query-status")).then(this, [this, promise, deadline](const Core::Expected<QJsonObject> &st) {
        if (promise.isResolved())
            return;
        if (!st) {
            if (m_process->isRunning()) {
                setState(State::Failed);
                promise.resolve(st.error());
                m_process->kill();
            }
            return;
        }
        const QString status = st->value(QStringLiteral("status")).toString();
        if (status == QLatin1String("inmigrate")) {
            if (QDateTime::currentMSecsSinceEpoch() > deadline) {
                setState(State::Failed);
                promise.fail(Core::ErrorCode::Timeout, QStringLiteral("loading the VM's state took longer than %1 s").arg(kRestoreTimeoutMs / 1000));
                m_process->kill();
                return;
            }
            QTimer::singleShot(kMigratePollIntervalMs, this, [this, promise, deadline]() { pollIncoming(promise, deadline); });
            return;
        }
        if (status != QLatin1String("paused") && status != QLatin1String("running")) {
            setState(State::Failed);
            promise.fail(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU reports status '%1' after loading the state").arg(status));
            m_process->kill();
            return;
        }
        releaseStateFd();
        m_qmp->execute(QStringLiteral("cont")).then(this, [this, promise](const Core::Expected<QJsonObject> &c) {
            if (promise.isResolved())
                return;
            if (!c) {
                setState(State::Failed);
                promise.resolve(c.error());
                m_process->kill();
                return;
            }
            m_qmp->execute(QStringLiteral("query-status")).then(this, [this, promise](const Core::Expected<QJsonObject> &after) {
                if (promise.isResolved())
                    return;
                const QString now = after ? after->value(QStringLiteral("status")).toString() : QString();
                if (now != QLatin1String("running")) {
                    setState(State::Failed);
                    promise.fail(Core::ErrorCode::VmmFailed,
                                 QStringLiteral("QEMU reports status '%1' after resuming the loaded state, expected 'running'").arg(now));
                    m_process->kill();
                    return;
                }
                setState(State::Running);
                promise.resolve({});
            });
        });
    });
}

void QemuInstance::kill()
{
    if (m_detached)
        return; // left running on purpose: neither the process nor its sockets are ours
    // Mark the exit as requested before it happens, so onProcessFinished
    // does not report it as unexpected.
    if (m_state == State::Starting || m_state == State::Running || m_state == State::Paused)
        setState(State::Stopping);
    m_startPromise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the VM was killed while starting"));
    if (m_qmp)
        m_qmp->close();
    if (m_process)
        m_process->kill(); // emits finished -> onProcessFinished
    removeSockets();
    if (m_state == State::Stopping)
        setState(State::Stopped);
    m_shutdownPromise.resolve({});
}

void QemuInstance::onProcessFinished(int exitCode, bool crashed)
{
    // Calls under way (a snapshot's migration) fail because QEMU is gone,
    // not as cancelled (a kill() closed the connection before already).
    if (m_qmp)
        m_qmp->close(Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU exited")));
    removeSockets();
    const State was = m_state;
    if (was == State::Starting) {
        setState(State::Failed);
        const QString tail = m_process->outputTail();
        m_startPromise.fail(Core::ErrorCode::VmmFailed,
                            QStringLiteral("QEMU exited during start (%1)%2")
                                .arg(crashed ? QStringLiteral("killed by a signal") : QStringLiteral("exit code %1").arg(exitCode),
                                     tail.isEmpty() ? QString() : QStringLiteral(": ") + tail));
        return;
    }
    if (was == State::Stopping || was == State::Stopped) {
        setState(State::Stopped);
        m_shutdownPromise.resolve({});
        return;
    }
    if (was == State::Running || was == State::Paused) {
        QString reason;
        if (m_guestShutdown && !crashed) {
            setState(State::Stopped);
            reason = QStringLiteral("the guest powered off");
        } else {
            setState(State::Failed);
            if (m_process->isPersistent())
                reason = QStringLiteral("QEMU exited"); // not our child: no exit status
            else
                reason = crashed ? QStringLiteral("QEMU was killed by a signal") : QStringLiteral("QEMU exited with code %1").arg(exitCode);
            const QString tail = m_process->outputTail();
            if (!tail.isEmpty())
                reason += QStringLiteral(": ") + tail;
        }
        Core::Log::vmm()->warn("{}: {}", m_spec.name.toStdString(), reason.toStdString());
        Q_EMIT exitedUnexpectedly(Core::Error(Core::ErrorCode::VmmFailed, reason));
    }
}

Core::Expected<DetachedVmm> QemuInstance::handle() const
{
    if (m_state != State::Running && m_state != State::Paused)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("only a running or paused VM can be left running (it is %1)").arg(stateName(m_state)));
    if (!m_process->isPersistent())
        return Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("QEMU was started as a child of this process and cannot outlive it (not persistent)"));
    DetachedVmm d;
    d.driver = driverName();
    d.pid = m_process->pid();
    d.startTime = m_process->startTime();
    d.runtimeDir = m_spec.runtimeDir;
    d.apiSocket = QemuCommandLine::qmpSocketPath(m_spec);
    d.agentSocket = QemuCommandLine::agentSocketPath(m_spec);
    d.accel = m_accel == QemuCommandLine::Accel::Kvm ? QStringLiteral("kvm") : QStringLiteral("tcg");
    return d;
}

Core::Expected<DetachedVmm> QemuInstance::detach()
{
    auto d = handle();
    if (!d)
        return d;
    if (auto ok = m_process->release(); !ok)
        return ok.error();
    m_detached = true;
    // QEMU's QMP monitor and console take the next client once these are gone.
    if (m_qmp)
        m_qmp->close();
    closeConsole();
    Core::Log::vmm()->info("{}: QEMU (pid {}) left running", m_spec.name.toStdString(), d->pid);
    setState(State::Stopped);
    return d;
}

Core::Future<void> QemuInstance::adopt(const DetachedVmm &vmm)
{
    if (m_state != State::NotStarted)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the VM was already started")));
    if (vmm.apiSocket != QemuCommandLine::qmpSocketPath(m_spec) || vmm.agentSocket != QemuCommandLine::agentSocketPath(m_spec))
        return Core::readyFuture<void>(Core::Error(
            Core::ErrorCode::InvalidArgument,
            QStringLiteral("the recorded sockets %1 and %2 are not those of runtime directory %3").arg(vmm.apiSocket, vmm.agentSocket, m_spec.runtimeDir)));
    m_accel = vmm.accel == QLatin1String("kvm") ? QemuCommandLine::Accel::Kvm : QemuCommandLine::Accel::Tcg;
    m_adopting = true;
    m_startPromise = Core::Promise<void>();
    m_process = new VmmProcess(m_binary, {}, QDir(m_spec.runtimeDir).filePath(QStringLiteral("vmm.log")), this);
    if (auto ok = m_process->adopt(vmm.pid, vmm.startTime); !ok) {
        setState(State::Failed);
        return Core::readyFuture<void>(ok.error());
    }
    connect(m_process, &VmmProcess::finished, this, &QemuInstance::onProcessFinished);
    setState(State::Starting);
    Core::Log::vmm()->info("{}: adopting QEMU (pid {})", m_spec.name.toStdString(), vmm.pid);
    tryConnectQmp(m_startPromise, QDateTime::currentMSecsSinceEpoch() + kAdoptQmpTimeoutMs);
    return m_startPromise.future();
}

void QemuInstance::removeSockets()
{
    QFile::remove(QemuCommandLine::consoleSocketPath(m_spec));
    QFile::remove(QemuCommandLine::qmpSocketPath(m_spec));
    QFile::remove(QemuCommandLine::agentSocketPath(m_spec));
    for (const QString &port : m_spec.extraSerialPorts)
        QFile::remove(QemuCommandLine::extraPortSocketPath(m_spec, port));
}

} // namespace Vmm
