#pragma once

#include "core/async.h"
#include "core/image/vmdisk.h"
#include "core/snapshot/snapshotstore.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmspec.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

namespace Agent {
class AgentClient;
struct AgentInfo;
} // namespace Agent
namespace Image {
class ImageBuilder;
struct GuestImage;
} // namespace Image
namespace Vmm {
class VmmInstance;
}

namespace Vm {

// Brings a VM up as a flat sequence of named steps, one of three ways:
//   Fresh:   prepare the image, the VM's writable disk layer over it, start
//            the VMM, connect the guest agent.
//   Restore: copy the snapshot's disk, start the VMM from its saved state,
//            connect the agent, move the guest's clock and RNG on and give
//            it the VM's host name (a guest that fails or does not answer
//            that fails the restore).
//   Adopt:   take over a VMM left running by an earlier process, connect a
//            new agent session (a paused guest connects on resume).
//   Claim:   run on a VM restored and paused ahead (VmPool) whose VMM and
//            agent session the VM took over: resume it, then move the
//            guest on as after a restore (clock, RNG, host name).
// The job owns its progress, its deadline and its cancellation. What
// outlives it, the VMM instance with its runtime directory and the agent
// client, belongs to the VM (the Host) from the moment it exists, so that
// a kill during the boot tears it down; the job holds them by QPointer.
// Once abandoned (the VM was stopped, killed or failed), every later step
// ends the job with Cancelled and touches nothing.
class BootJob final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BootJob)
public:
    static constexpr int kAdoptAgentTimeoutMs = 30000;
    static constexpr int kClockSyncTimeoutMs = 10000;
    // The guest agent's binary as a restored guest's shell finds it on its
    // PATH (/usr/sbin in every image), run there to reseed the RNG.
    static constexpr const char *kGuestAgentCommand = "microvm-agent";
    static constexpr int kRngSeedBytes = 64;
    static constexpr int kMinAgentWaitMs = 1000;
    static constexpr int kConsoleTailBytes = 4096;

    enum class Kind { Fresh, Restore, Adopt, Claim };

    // What the job asks of the VM it brings up.
    class Host {
    public:
        virtual ~Host() = default;
        // Create the VMM instance for `spec` and keep it; the VM is Booting
        // from now on. spec.runtimeDir empty: the VM makes a private one.
        virtual Core::Expected<Vmm::VmmInstance *> attachInstance(Vmm::VmSpec spec) = 0;
        // A new agent client on the instance's endpoint, kept by the VM.
        virtual Agent::AgentClient *attachAgent() = 0;
        // The VM's own directory for its writable disk (created if needed).
        virtual Core::Expected<QString> writableDiskDir() = 0;
        virtual QString consoleLog(int maxBytes) const = 0;
    };

    struct Request {
        Kind kind = Kind::Fresh;
        // The VM's hardware, command line, console and agent channel; the
        // job adds kernel, disks and accelerator.
        Vmm::VmSpec spec;
        int readyTimeoutMs = 0; // VMM spawn -> agent handshake
        // Fresh
        Image::ImageBuilder *builder = nullptr;
        Templates::ImageRecipe image;
        QString agentBinary;
        Image::DiskLayer diskLayer = Image::DiskLayer::Qcow2Overlay;
        // Restore (checksums verified by the caller)
        Snapshot::SnapshotInfo snapshot;
        // With a NIC: the guest's network (Net::GuestNet::spec), set by its
        // agent after a restore.
        QString guestNetSpec;
        // Adopt
        Vmm::DetachedVmm adopted;
        // Claim: the paused VMM and the agent session (connected, its Hello
        // answered) the VM took over, and what the agent said then.
        Vmm::VmmInstance *claimedInstance = nullptr;
        Agent::AgentClient *claimedAgent = nullptr;
        QString claimedAgentVersion;
        QString claimedBaseDiskPath;
    };

    struct Outcome {
        QString agentVersion; // empty when adopted paused
        bool paused = false; // adopted while paused
        qint64 bootMs = 0; // VMM spawn -> agent handshake
        QString baseDiskPath; // the shared read-only disk under the VM's own
    };

    BootJob(Host &host, Request request, QObject *parent = nullptr);

    // Once.
    Core::Future<Outcome> run();
    void abandon() { m_abandoned = true; }

private:
    Core::Future<Outcome> runFresh();
    Core::Future<Outcome> runRestore();
    Core::Future<Outcome> runAdopt();
    Core::Future<Outcome> runClaim();

    Core::Future<Image::GuestImage> prepareImage();
    Core::Future<QList<Vmm::DiskSpec>> prepareDisk(const Image::GuestImage &image);
    Core::Future<QList<Vmm::DiskSpec>> copySnapshotDisk();
    Core::Future<void> startVmm(const QList<Vmm::DiskSpec> &disks);
    Core::Future<void> adoptVmm();
    Core::Future<Agent::AgentInfo> connectAgent(int timeoutMs);
    Core::Future<Outcome> moveRestoredGuestOn(const Agent::AgentInfo &info);
    QString configureNet() const;
    Core::Future<Outcome> connectUnlessPaused();
    Core::Expected<Outcome> ready(const Agent::AgentInfo &info);
    Core::Error explainAgentFailure(Core::Error error) const;
    Core::Result goOn() const;

    Host &m_host;
    Request m_request;
    QString m_kernelPath;
    QString m_initramfsPath;
    QString m_baseDiskPath;
    QPointer<Vmm::VmmInstance> m_instance;
    QPointer<Agent::AgentClient> m_agent;
    QElapsedTimer m_bootTimer;
    bool m_started = false;
    bool m_abandoned = false;
};

} // namespace Vm
