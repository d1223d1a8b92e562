#pragma once

#include "core/vmm/chvmconfig.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmminstance.h"

#include <QJsonObject>
#include <QTimer>

#include <functional>
#include <optional>

namespace Vmm {

class ChApiClient;
class HeldFds;
class VmmProcess;

// One cloud-hypervisor process running one VM (KVM only).
//
// start(): bind and listen on <runtimeDir>/ch-api.sock ourselves and spawn
// `cloud-hypervisor --api-socket fd=N --seccomp true` with that descriptor inherited
// (libvirt's chMonitorCreateSocket): calls can be sent at once and wait in
// the socket's backlog, so there is no race on the socket file and no ping
// polling. Then vmm.ping (the server is up) -> vm.create -> vm.info "Created"
// -> vm.boot -> vm.info "Running". A VMM that exits during start fails it
// with the VMM's output tail, which VmmProcess keeps in <runtimeDir>/vmm.log.
//
// Who it runs as (vmmCredentials()): a root service's cloud-hypervisor runs
// as the VMM user with a clean environment (VmmProcess). It is handed its
// kernel, initramfs and disks as descriptors (ChVmConfig::PassedFds, named
// /proc/self/fd/N in its config; a disk goes to the VMM user's group when
// that user could not open it otherwise), binds its vsock and console
// sockets in <runtimeDir>/vmm (the VMM user's, 0700, handed as a
// descriptor too), and reaches the VM's snapshot directory (its group,
// 0710) only to write a snapshot into a staging directory lent to it for
// that call. Its landlock ruleset (vm.create) names exactly those.
//
// shutdown(): vm.shutdown (best effort) -> vmm.shutdown -> wait for the
// process (kExitTimeoutMs) -> SIGKILL; then the API and vsock sockets are
// unlinked. Unexpected exit: Stopped after a clean exit (the guest powered
// off: cloud-hypervisor exits with 0), Failed otherwise; both emit
// exitedUnexpectedly.
class ChInstance final : public VmmInstance {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChInstance)
public:
    // Named deadlines.
    static constexpr int kApiReadyTimeoutMs = 10000; // spawn -> first vmm.ping answered
    static constexpr int kVmShutdownTimeoutMs = 5000; // vm.shutdown during shutdown()
    static constexpr int kExitTimeoutMs = 5000; // vmm.shutdown -> process gone, else SIGKILL
    static constexpr int kApiListenBacklog = 8; // micro_http serves at most 10 connections
    // When the API connection drops during start, how long to wait for the
    // process exit to be reported (its exit code and output make the error).
    static constexpr int kExitReportGraceMs = 500;
    // setMemory: vm.resize desired_balloon -> vm.info memory_actual_size at the target.
    static constexpr int kBalloonTimeoutMs = 30000;
    static constexpr int kBalloonPollIntervalMs = 50;
    // setVcpus: vm.resize -> vm.info's config counts the vCPUs asked for.
    static constexpr int kCpuResizeTimeoutMs = 15000;
    static constexpr int kCpuPollIntervalMs = 50;

    ChInstance(VmSpec spec, QString binary, QObject *parent = nullptr);
    ~ChInstance() override;

    QString driverName() const override { return QStringLiteral("cloud-hypervisor"); }
    const VmSpec &spec() const override { return m_spec; }
    State state() const override { return m_state; }
    qint64 pid() const override;

    Core::Future<void> start() override;
    Core::Future<void> pause() override;
    Core::Future<void> resume() override;
    Core::Future<void> shutdown() override;
    void kill() override;

    // {<runtimeDir>/vsock.sock, spec.agentVsockPort}: hybrid vsock, connect and
    // send "CONNECT <port>\n", then strip the "OK <hostport>\n" reply.
    AgentEndpoint agentEndpoint() const override;
    bool accelerated() const override { return true; } // cloud-hypervisor runs on KVM only

    // saveState = snapshot(); startFromState retargets a copy of the
    // snapshot's config.json at this instance's runtime directory, console
    // log and disks (ChVmConfig::retargetSnapshotConfig) in
    // ChVmConfig::restoreDir, links the snapshot's other files there (by
    // descriptor when the VMM runs as another user) and restores from it.
    Core::Future<void> saveState(const QString &directory) override { return snapshot(directory); }
    Core::Future<void> startFromState(const QString &directory, const QString &savedBy = QString()) override;
    QStringList stateFiles() const override;
    // The balloon of the VM's config (ChVmConfig::balloon) sized to the
    // memory given back; vm.info's memory_actual_size verifies it.
    Core::Future<qint64> setMemory(qint64 targetMiB) override;
    Core::Future<qint64> memory() override;
    Core::Future<int> setVcpus(int count) override;
    Core::Future<int> vcpus() override;

    // cloud-hypervisor specific.
    // Snapshot a paused VM into `directory` (absolute, existing): config.json,
    // state.json and memory-ranges. Disk images are not included. When the
    // VMM runs as another user, `directory` must be directly in the spec's
    // stateDir; it is the VMM user's during the call only.
    Core::Future<void> snapshot(const QString &directory);
    // Instead of start(): spawn a fresh VMM and restore the VM from a snapshot
    // directory, then resume it. The snapshot's config.json names the vsock
    // socket and console log of the VM it was taken from, so restore into an
    // instance with the same runtime directory, or edit config.json first.
    // The VMM must be able to open `directory` by path (a service that is
    // not root); startFromState works for both.
    Core::Future<void> startFromSnapshot(const QString &directory);

    QString binary() const { return m_binary; }
    QString apiSocketPath() const;
    QString vmmVersion() const override { return m_vmmVersion; } // from vmm.ping, once started
    ChApiClient *api() const { return m_api; }

private:
    using Step = void (ChInstance::*)();
    // Who the VMM runs as, and what it is handed (openChFds), before spawning it.
    Core::Result prepareFiles(HeldFds &held);
    // startFromState: the retargeted config.json and links to the snapshot's files.
    Core::Result writeRestoreDir();
    // Spawn the VMM on our API socket and wait for vmm.ping, then run `next`.
    Core::Future<void> launch(Step next);
    void createAndBoot();
    void addNicAndBoot();
    void restoreAndResume();
    // During start: run `next` when `f` succeeds, fail the start otherwise.
    void startStep(Core::Future<void> f, std::function<void()> next);
    // vm.info must report `expected` after the call `after`.
    Core::Future<void> expectVmState(const QString &expected, const char *after);
    void startSucceeded();
    void failStart(const Core::Error &error);
    void failStartSoon(const Core::Error &error);
    void stopVmm();
    void finishShutdown();
    void onProcessFinished(int exitCode, bool crashed);
    void setState(State state);
    void removeSockets();
    bool startInProgress() const;
    QString withOutputTail(const QString &message) const;

    VmSpec m_spec;
    QString m_binary;
    State m_state = State::NotStarted;
    VmmProcess *m_process = nullptr;
    ChApiClient *m_api = nullptr;
    Core::Promise<void> m_startPromise;
    Core::Promise<void> m_shutdownPromise;
    QString m_restoreDir;
    QString m_stateSource; // startFromState: the snapshot directory
    QJsonObject m_savedConfig; // and its config.json
    std::optional<VmmCredentials> m_credentials;
    std::optional<ChVmConfig::PassedFds> m_passedFds;
    QString m_vmmVersion;
    QString m_savedBy; // startFromState: the version that saved the snapshot
    QTimer m_exitTimer;
    bool m_finishingShutdown = false;
    bool m_destroying = false;
};

} // namespace Vmm
