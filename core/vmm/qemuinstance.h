#pragma once

#include "core/vmm/qemucommandline.h"
#include "core/vmm/qemucpus.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmminstance.h"

namespace Vmm {

class QmpClient;
class VmmProcess;

// One QEMU process: spawned with the command line from QemuCommandLine,
// driven over QMP, every transition checked with query-status.
class QemuInstance final : public VmmInstance {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(QemuInstance)
public:
    // Named deadlines.
    static constexpr int kQmpSocketTimeoutMs = 15000; // spawn -> QMP socket accepting
    static constexpr int kQmpPollIntervalMs = 5;
    static constexpr int kQuitTimeoutMs = 5000; // 'quit' -> process gone, else SIGKILL
    static constexpr int kMigratePollIntervalMs = 10; // query-migrate / query-status while saving or loading
    static constexpr int kSaveTimeoutMs = 5 * 60 * 1000; // migrate to a file -> completed
    static constexpr int kRestoreTimeoutMs = 5 * 60 * 1000; // migrate-incoming -> paused
    // The state file saveState writes: a stream of QEMU's migration format.
    // This process opens it and QEMU migrates through the descriptor it
    // receives over QMP: before QEMU kFileUriMajor under kStateFdName (fd:
    // URI; 7.2 and 8.2 have no file: URI on an fd set), from then on in the
    // fd set kStateFdSet (file:/dev/fdset/N; QEMU 10 warns that fd: on a
    // regular file is deprecated). The probed version picks; a state is
    // loaded only by the QEMU version that saved it, so by the same URI.
    static constexpr const char *kStateFile = "memory.state";
    static constexpr const char *kStateFdName = "mvs-state";
    static constexpr int kFileUriMajor = 9;
    static constexpr int kStateFdSet = 1 << 16; // above the disks' sets (QemuCommandLine: 1..2n)
    static constexpr int kAdoptQmpTimeoutMs = 10000; // adopt -> QMP answered query-status
    // setMemory: 'balloon' -> query-balloon reports the target. A TCG guest
    // gives back a few hundred MiB in about a second.
    static constexpr int kBalloonTimeoutMs = 30000;
    static constexpr int kBalloonPollIntervalMs = 50;
    // setVcpus: device_add answered -> query-hotpluggable-cpus counts the vCPU.
    static constexpr int kCpuPlugTimeoutMs = 10000;
    static constexpr int kCpuPollIntervalMs = 50;

    // spec.accel is "auto", "kvm" or "tcg"; start() resolves it (resolveQemuAccel).
    QemuInstance(VmSpec spec, QString binary, QObject *parent = nullptr);
    ~QemuInstance() override;

    QString driverName() const override { return QStringLiteral("qemu"); }
    const VmSpec &spec() const override { return m_spec; }
    State state() const override { return m_state; }
    qint64 pid() const override;

    Core::Future<void> start() override;
    Core::Future<void> pause() override;
    Core::Future<void> resume() override;
    Core::Future<void> shutdown() override;
    void kill() override;
    Core::Future<void> saveState(const QString &directory) override;
    Core::Future<void> startFromState(const QString &directory, const QString &savedBy = QString()) override;
    QString vmmVersion() const override;
    QStringList stateFiles() const override { return {QString::fromLatin1(kStateFile)}; }
    bool cancelSaveState() override;
    Core::Future<qint64> setMemory(qint64 targetMiB) override;
    Core::Future<qint64> memory() override;
    Core::Future<int> setVcpus(int count) override;
    Core::Future<int> vcpus() override;

    AgentEndpoint agentEndpoint() const override;
    bool accelerated() const override { return m_accel == QemuCommandLine::Accel::Kvm; }

    Core::Expected<DetachedVmm> handle() const override;
    Core::Expected<DetachedVmm> detach() override;
    Core::Future<void> adopt(const DetachedVmm &vmm) override;

    // The full command line, for logs and the benchmark's floor measurement.
    QStringList commandLine() const;
    QmpClient *qmp() const { return m_qmp; }

private:
    void setState(State s);
    void spawn();
    void tryConnectQmp(Core::Promise<void> promise, qint64 deadline);
    Core::Future<void> expectStatus(const QString &command, const QString &expected, State target);
    void onProcessFinished(int exitCode, bool crashed);
    void removeSockets();
    Core::Future<QList<QemuCpus::Slot>> cpuSlots();
    Core::Future<void> addCpus(QList<QJsonObject> devices);
    void loadState(Core::Promise<void> promise);
    Core::Future<void> passStateFd(const QString &file, int flags);
    bool migratesThroughFdSet() const;
    QString stateFdUri() const;
    void releaseStateFd();
    void endSave();
    void pollMigration(Core::Promise<void> promise, qint64 deadline);
    void pollIncoming(Core::Promise<void> promise, qint64 deadline);

    VmSpec m_spec;
    QString m_binary;
    QemuCommandLine::Accel m_accel;
    State m_state = State::NotStarted;
    VmmProcess *m_process = nullptr;
    QmpClient *m_qmp = nullptr;
    Core::Promise<void> m_startPromise;
    Core::Promise<void> m_shutdownPromise;
    bool m_guestShutdown = false;
    QString m_incomingFile; // set: start() loads this state instead of booting
    QString m_savedBy; // the QEMU version that saved it
    bool m_saving = false; // a migration to a state file is under way
    bool m_adopting = false; // adopt(): a paused VM is fine too
    bool m_detached = false; // detach(): the VMM and its sockets are not ours any more
    // The user QEMU runs as (a root service's VMM user), and what it was
    // handed instead of paths (QemuCommandLine::PassedFds).
    std::optional<VmmCredentials> m_credentials;
    std::optional<QemuCommandLine::PassedFds> m_passedFds;
};

} // namespace Vmm
