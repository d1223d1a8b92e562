#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/vmminstance.h"
#include "core/vm/bootjob.h"
#include "core/vm/portforward.h"
#include "core/vm/snapshotsavejob.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <memory>

class QTemporaryDir;

namespace Agent {
class AgentClient;
struct AgentInfo;
} // namespace Agent
namespace Image {
class ImageBuilder;
}
namespace Vmm {
class VmmDriver;
}

namespace Vm {

// One VM made from a template: the image is ensured (built once, cached),
// the VMM started through the driver, and the VM is Ready once its guest
// agent answered the handshake. Tearing down always leaves nothing behind:
// no VMM process, no sockets, no runtime directory (detach() is the one way
// to leave a VMM running, on purpose).
class VirtualMachine final : public QObject, private BootJob::Host {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VirtualMachine)
public:
    enum class State { Created, Preparing, Booting, Ready, Paused, Stopping, Stopped, Failed };
    Q_ENUM(State)

    // The driver must outlive the VM.
    VirtualMachine(QString name, Templates::VmTemplate tmpl, const Vmm::VmmDriver &driver, QObject *parent = nullptr);
    ~VirtualMachine() override;

    QString name() const { return m_name; }
    const Templates::VmTemplate &vmTemplate() const { return m_template; }
    State state() const { return m_state; }
    Core::Error lastError() const { return m_lastError; }

    void setVcpus(int vcpus) { m_vcpus = vcpus; }
    // The most vCPUs it may have while it runs (VmSpec::maxVcpus), from
    // its next start; 0: none added.
    void setMaxVcpus(int vcpus) { m_maxVcpus = vcpus; }
    int maxVcpus() const { return m_maxVcpus; }
    // The most vCPUs it may have now: its running VMM's ceiling (the vCPUs
    // it booted with, or its max_vcpus when higher); stopped, what the next
    // start gives it.
    int vcpuCeiling() const;
    void setMemoryMiB(int mib) { m_memoryMiB = mib; }
    int vcpus() const { return m_vcpus; }
    int memoryMiB() const { return m_memoryMiB; }
    // Extra kernel arguments (appended to the template's).
    void setExtraKernelArgs(const QString &args) { m_extraKernelArgs = args; }
    // Where the serial console goes; default: the VM's runtime directory.
    void setConsoleLogPath(const QString &path) { m_consoleLogPath = path; }
    // Where this VM's snapshots go (VmSpec::stateDir); default: none.
    void setStateDir(const QString &dir) { m_stateDir = dir; }
    // The VM's NIC (VmSpec::nic) from the next start() or restoreSnapshot()
    // on; the tap's descriptor stays the caller's and open until that has
    // resolved. guestNetSpec (Net::GuestNet::spec: address, gateway, MAC)
    // reaches the guest on the kernel command line at a boot ("mvs.net=")
    // and through its agent after a restore ("--configure-net", before the
    // VM is Ready: a fork's new address, fresh neighbours for a new tap).
    void setNic(std::optional<Vmm::NicSpec> nic, QString guestNetSpec = {})
    {
        m_nic = std::move(nic);
        m_guestNetSpec = std::move(guestNetSpec);
    }
    bool hasNic() const { return m_nic.has_value(); }
    // QEMU only: extra named virtio-serial ports (see VmSpec).
    void setExtraSerialPorts(const QStringList &names) { m_extraSerialPorts = names; }
    // Boot deadline (spawn -> agent handshake); default: the template's.
    void setReadyTimeoutMs(int ms) { m_readyTimeoutMs = ms; }
    // Root-disk templates: where the VM's own writable disk lives (kept
    // across stop and start). Default: a private directory under the data
    // dir, removed with this object.
    void setDiskDir(const QString &dir) { m_diskDir = dir; }
    QString diskDir() const;

    // Ensure the image, start the VMM, wait for the agent. On failure the VM
    // is torn down and the error says why (a boot timeout includes the tail
    // of the guest's serial log).
    Core::Future<void> start();
    Core::Future<void> pause();
    Core::Future<void> resume();
    // Live memory (Vmm::VmmInstance::setMemory): Ready VMs only, between 1
    // MiB and memoryMiB(). Resolves with the guest's memory once the VMM
    // reports it there.
    Core::Future<qint64> setMemory(qint64 targetMiB);
    // The guest's memory now, in MiB: memoryMiB() less what its balloon
    // holds; 0 when no VMM runs.
    qint64 memoryNowMiB() const { return m_instance ? m_memoryNowMiB : 0; }
    // Live vCPUs (Vmm::VmmInstance::setVcpus): Ready VMs only, between 1
    // and maxVcpus(). Resolves with the count the VMM reports; vcpus() is
    // that count from then on (what a snapshot of it, or its next start,
    // boots with).
    Core::Future<int> hotplugVcpus(int count);
    // Stop the VMM (it is asked to quit, killed past a deadline), clean up.
    Core::Future<void> stop();
    // Kill and clean up now (synchronous).
    void kill();

    // Snapshots (VmManager names, stores and verifies them). saveSnapshot:
    // pause, save the VMM's state into `directory` (existing, empty), copy
    // the VM's writable disk into it as disk.<format>, then run again, or
    // stay paused when leavePaused. Resolves with the VM's side of the
    // snapshot's manifest (no name, time or checksums). A save that fails
    // leaves the VM running or paused as it was; the directory's contents
    // are the caller's to discard.
    Core::Future<Snapshot::SnapshotInfo> saveSnapshot(const QString &directory, bool leavePaused);
    // Run the VM from a snapshot instead of booting it: a running VM's VMM
    // is replaced (its unsaved state is gone), a stopped one is started. The
    // snapshot's disk is copied over the VM's own (the snapshot is never
    // written to), its hardware (vCPUs, memory) becomes the VM's. The caller
    // verifies checksums first. Resolves once the guest agent answers, as
    // start() does; fails like start() does, leaving the VM Failed.
    Core::Future<void> restoreSnapshot(const Snapshot::SnapshotInfo &snapshot);
    bool snapshotBusy() const { return m_saveJob != nullptr; }
    // Stop a saveSnapshot before its state and disk are saved (it then fails
    // with Cancelled and the VM runs on). False when it is past that point or
    // no snapshot is under way.
    bool cancelSnapshot();
    // Start the VMM so that it may outlive this object and this process
    // (QEMU only), for detach(). Takes effect at the next start().
    void setPersistent(bool persistent) { m_persistent = persistent; }
    bool isPersistent() const { return m_persistent; }
    // Ready or Paused, started persistent or adopted: let go of the VM and
    // leave it running. Its runtime directory (sockets, VMM log) is kept;
    // the result says how to find it again. Afterwards this object is
    // Stopped and owns nothing.
    Core::Expected<Vmm::DetachedVmm> detach();
    // What detach() would return, without letting go of the VM.
    Core::Expected<Vmm::DetachedVmm> vmmHandle() const;
    // Instead of start(): take over a VM left running by detach() (in an
    // earlier process). Booting until the VMM answered and the guest agent
    // took a new Hello, then Ready (or Paused: the agent connects on
    // resume). On failure the VMM is killed, like a failed start.
    Core::Future<void> adopt(const Vmm::DetachedVmm &vmm);
    // Instead of start(): take over the run of `pooled`, a VM of the same
    // template and shape restored from its warm snapshot and paused ahead
    // (VmPool): its VMM, agent session, runtime directory and console; its
    // writable disk moves into this VM's disk directory. Then the guest runs
    // on as this VM: resumed, its clock, RNG and host name moved on as
    // after a restore. `pooled` is left Stopped, owning nothing. A claim
    // that fails leaves this VM Failed and its VMM gone, as a start would.
    Core::Future<void> claim(VirtualMachine &pooled);

    Agent::AgentClient *agent() const { return m_agent; }
    Vmm::VmmInstance *instance() const { return m_instance.get(); }
    Image::ImageBuilder *imageBuilder() const { return m_builder; }
    QString runtimeDir() const;
    QString consoleLogPath() const;
    QString consoleLog(int maxBytes = 64 * 1024) const override;
    // Milliseconds from VMM spawn to the agent's handshake, for the last start.
    qint64 bootMs() const { return m_bootMs; }

    // Expose a guest TCP port (on the guest's 127.0.0.1) on this host: a Unix
    // socket <runtime dir>/fwd-<port>[-<n>].sock and/or a TCP port. Only while
    // the VM runs; the forward belongs to this run (it is deleted when the VM
    // stops or fails), so keep it in a QPointer, or delete it when done.
    Core::Expected<PortForward *> forward(quint16 guestPort, const ForwardListen &listen = {});

Q_SIGNALS:
    void stateChanged(Vm::VirtualMachine::State state);
    void imageProgress(const QString &step, int percent);
    // The VM died or its agent connection broke while it was running.
    void failed(const Core::Error &error);

private:
    void setState(State s);
    void beginStart();
    BootJob::Request bootRequest(BootJob::Kind kind) const;
    void runBootJob(BootJob::Request request);
    void booted(const BootJob::Outcome &outcome, bool adopted);
    void readMemoryNow();
    Core::Result takeRun(VirtualMachine &pooled);
    Core::Result takeDisk(VirtualMachine &pooled);
    // BootJob::Host
    Core::Expected<Vmm::VmmInstance *> attachInstance(Vmm::VmSpec spec) override;
    Agent::AgentClient *attachAgent() override;
    Core::Expected<QString> writableDiskDir() override;
    Core::Expected<QString> makeRuntimeDir();
    Snapshot::SnapshotInfo describeRun() const;
    void failStart(const Core::Error &error);
    void onVmmExited(const Core::Error &error);
    void cleanup();

    QString m_name;
    Templates::VmTemplate m_template;
    const Vmm::VmmDriver &m_driver;
    int m_vcpus;
    int m_maxVcpus = 0;
    int m_memoryMiB;
    int m_readyTimeoutMs;
    QString m_extraKernelArgs;
    QString m_consoleLogPath;
    QString m_stateDir;
    QStringList m_extraSerialPorts;
    std::optional<Vmm::NicSpec> m_nic;
    QString m_guestNetSpec;
    QString m_diskDir;
    std::unique_ptr<QTemporaryDir> m_ownDiskDir;
    State m_state = State::Created;
    Core::Error m_lastError;
    std::unique_ptr<QTemporaryDir> m_runtimeDir;
    std::unique_ptr<Vmm::VmmInstance> m_instance;
    Agent::AgentClient *m_agent = nullptr;
    Image::ImageBuilder *m_builder = nullptr;
    Core::Promise<void> m_startPromise;
    // What the current run booted, for its snapshots.
    QString m_kernelPath;
    QString m_initramfsPath;
    QString m_baseDiskPath;
    QList<Vmm::DiskSpec> m_disks;
    QPointer<SnapshotSaveJob> m_saveJob; // the snapshot being taken, if any
    QPointer<BootJob> m_bootJob; // the start, restore or adoption under way, if any
    qint64 m_bootMs = 0;
    qint64 m_memoryNowMiB = 0; // the balloon's view, read at every start and set by setMemory
    bool m_persistent = false;
    QString m_adoptedRuntimeDir; // an adopted VM's runtime directory, removed by cleanup()
    // A start being failed or killed, or a running VM being failed, is being
    // torn down: the callbacks that teardown fires (failed agent calls, the
    // instance's start promise) find it ending and do not end it again.
    bool m_ending = false;
};

QString stateName(VirtualMachine::State state);

} // namespace Vm
