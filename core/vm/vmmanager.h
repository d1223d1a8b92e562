#pragma once

#include "core/async.h"
#include "core/vm/hostquota.h"
#include "core/vm/virtualmachine.h"
#include "core/vm/vmadoption.h"
#include "core/vm/vmnetworks.h"
#include "core/vm/vmpool.h"
#include "core/vm/vmports.h"
#include "core/vm/vmregistry.h"
#include "core/vm/vmsnapshots.h"
#include "core/vm/warmstarts.h"

#include <QDateTime>
#include <QJsonObject>
#include <QHash>
#include <QObject>
#include <QStringList>

#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace Agent {
class AgentClient;
}
namespace Vmm {
class VmmDriver;
}

namespace Vm {

// Owns the named VMs of one host user and keeps a durable record of each.
//
// Records are JSON files written atomically (QSaveFile, mode 0600) on every
// change of configuration, desired state or last error. The serial console
// of each VM is appended to <stateDir>/<name>.console.log, so it survives
// the VM and the process.
//
// A VMM never outlives the manager that started it, unless it was left
// running on purpose: the destructor kills the VMs it runs. Only a
// detachable manager (setDetachable) starts VMMs that can be left running,
// and only detachAll() leaves them running; their records then say where
// they are (running_vmm). When records are loaded at construction, a VM
// whose recorded VMM still runs (same pid, same start time, its command line
// names the guest) is adopted: Booting until its VMM and guest agent
// answered, then Ready or Paused. A record whose VMM is gone is cleared (its
// runtime directory removed). Every other VM that had been started before
// is reported Stopped, even if its desired state was running or paused (the
// record keeps the desired state; nothing is restarted automatically). A VM
// never started is Created.
//
// Operations are asynchronous and never block the thread. Operations on a
// VM that do not fit its current state fail with InvalidState (for example
// starting a VM that is booting); operations on a VM being removed fail too.
class VmManager final : public QObject, private VmSnapshots::Host {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmManager)
public:
    static constexpr int kMaxVcpus = 64;
    // VMs with a NIC per manager: the slots of the smallest VM subnet a
    // /20 candidate offers (Net::SubnetPlan, a /30 each).
    static constexpr int kMaxNetworkSlots = 1024;
    static constexpr int kMinMemoryMiB = 64;
    static constexpr int kMaxMemoryMiB = 256 * 1024;

    struct CreateOptions {
        QString name;
        QString templateName;
        std::optional<int> vcpus; // default: the template's
        std::optional<int> memoryMiB; // default: the template's
        std::optional<int> maxVcpus = std::nullopt; // vCPU hot-plug ceiling; default: none (VmRecord::maxVcpus)
        std::optional<Templates::NetworkSpec> network = std::nullopt; // default: the template's
        QString owner = QString(); // see VmRecord::owner
    };

    // Names: ^[a-z0-9][a-z0-9-]{0,62}$ (they end up in host names, file
    // names and URLs).
    static Core::Result validateName(const QString &name);
    static QString defaultStateDir(); // Core::Paths::dataDir() + "/vms"

    // The driver must outlive the manager. stateDir empty: defaultStateDir().
    // networks: the host side of the VMs' NICs (VmNetworks::start); none:
    // VMs with a NIC are refused at start.
    explicit VmManager(const Vmm::VmmDriver &driver, QString stateDir = QString(), std::unique_ptr<VmNetworks> networks = nullptr, QObject *parent = nullptr);
    ~VmManager() override;

    QString stateDir() const { return m_stateDir; }
    const Vmm::VmmDriver &driver() const { return m_driver; }
    // Record files that could not be read at construction (skipped), one
    // line each with the file and why.
    QStringList loadWarnings() const { return m_loadWarnings; }

    // Validate, load the template, persist the record. Nothing is started.
    // On any error nothing is left behind (no record, no entry).
    Core::Expected<VmInfo> create(const CreateOptions &options);

    // A VM's egress policy (InvalidState for a VM without a NIC, mode none).
    Core::Expected<Net::NetworkPolicy> networkPolicy(const QString &name) const;
    // Replaces it in the record and, while the VM runs, in its filter and
    // resolver at once (new connections follow it; established ones go on).
    Core::Result setNetworkPolicy(const QString &name, const Net::NetworkPolicy &policy);
    // Its network now: address, counters and recent denials while it runs
    // with a NIC (InvalidState for a VM without one).
    Core::Expected<VmNetworkStatus> networkStatus(const QString &name) const;
    // Bytes through its NIC while it runs with one (a root service's; see
    // VmNetworks::traffic), else nullopt.
    std::optional<VmTraffic> networkTraffic(const QString &name) const { return m_networks->traffic(name); }
    // The allowed and denied connections of every VM running with a NIC.
    std::map<QString, Net::VmCounters> networkCounters() const { return m_networks->counters(); }

    bool contains(const QString &name) const;
    QStringList names() const; // sorted
    QList<VmInfo> list() const; // sorted by name
    Core::Expected<VmInfo> info(const QString &name) const;
    // The VM object (nullptr when unknown or not instantiated yet: a VM is
    // instantiated on create, or on its first start after a reload).
    VirtualMachine *vm(const QString &name) const;
    // The running VM's agent, or a clear NotFound / InvalidState error.
    Core::Expected<Agent::AgentClient *> agent(const QString &name) const;
    // Whether the VM's template has a desktop (a display to show).
    Core::Expected<bool> hasDesktop(const QString &name) const;
    // The CPU time its VMM process has used, in milliseconds (InvalidState
    // when no VMM runs).
    Core::Expected<qint64> vmmCpuMs(const QString &name) const;
    // Stop preparing the VM's image (its start then fails with Cancelled).
    // InvalidState when no image is being prepared for it.
    Core::Result cancelImageBuild(const QString &name);

    QString consoleLogPath(const QString &name) const;
    // Where a root-disk VM's own writable disk lives (<state dir>/<name>.disk).
    QString diskDir(const QString &name) const;
    // The last maxBytes of the console log (empty when the VM never booted).
    Core::Expected<QByteArray> consoleLog(const QString &name, qint64 maxBytes) const;

    Core::Future<void> start(const QString &name);
    Core::Future<void> stop(const QString &name);
    Core::Future<void> pause(const QString &name);
    Core::Future<void> resume(const QString &name);
    // Stop (when running) then start.
    Core::Future<void> restart(const QString &name);

    // --- resources. A VM without a VMM (created, stopped, failed) gets new
    // vCPUs and memory in its record, used from its next start (the shape
    // must fit the quotas at all; the start checks them as always). A
    // running VM's memory changes live through its balloon (LiveMemory:
    // down to what its guest can spare, up to the memory it booted with,
    // which stays its record's); its vCPUs cannot change (Unsupported).
    // A stopped VM: all three from its next start. A running one: vcpus
    // hot-plugged (up to the max_vcpus it was started with) and memory
    // through its balloon; its max_vcpus only while it is stopped.
    struct Resources {
        std::optional<int> vcpus;
        std::optional<int> memoryMiB;
        std::optional<int> maxVcpus = std::nullopt;
    };
    Core::Future<void> resize(const QString &name, const Resources &resources);

    // --- snapshots (<state dir>/<name>.snapshots/, see Snapshot::SnapshotStore)
    static constexpr int kMaxForkCount = VmSnapshots::kMaxForkCount;
    using SnapshotOptions = Vm::SnapshotOptions;
    // Pause the VM, save memory, devices and disk, run it again; the
    // snapshot is listed only once all of it is written, hashed and synced.
    // On any failure (VMM error, writer killed, disk full) nothing is listed
    // and the VM runs (or stays paused) as before.
    Core::Future<Snapshot::SnapshotInfo> snapshot(const QString &vm, const SnapshotOptions &options);
    // Cancel the snapshot of the VM under way: its future fails with
    // Cancelled, nothing is kept, the VM runs on. QEMU stops writing at once;
    // a VMM that cannot (cloud-hypervisor) finishes its write, which is then
    // dropped. InvalidState when none is under way or it is past the point
    // where it can stop (state and disk saved; the rest takes moments).
    Core::Result cancelSnapshot(const QString &vm);
    Core::Expected<QList<Snapshot::SnapshotInfo>> snapshots(const QString &vm) const;
    Core::Expected<Snapshot::SnapshotInfo> snapshotInfo(const QString &vm, const QString &snapshot) const;
    // Verify the snapshot's checksums (Corrupted when a file changed, and
    // the VM is left alone), then run the VM from it in place: a running VM
    // loses its unsaved state, a stopped one starts. The snapshot stays.
    Core::Future<void> restore(const QString &vm, const QString &snapshot);
    using ForkOptions = Vm::ForkOptions;
    // Start `count` new VMs from one snapshot (verified once), each with its
    // own name, record, VMM, agent channel, writable disk (a copy of the
    // snapshot's) and guest host name; the read-only base image is shared.
    // All or nothing: if one fails, the others are deleted again. Resolves
    // with the new VMs' names.
    Core::Future<QStringList> fork(const QString &vm, const QString &snapshot, const ForkOptions &options);
    // Delete a snapshot. Its children keep working (snapshots never share
    // files) and get its parent as theirs.
    Core::Result deleteSnapshot(const QString &vm, const QString &snapshot);
    QString snapshotDir(const QString &name) const;
    // Stop (killed if it does not stop), then forget: record and console log
    // are deleted. The name can be reused once this resolves.
    Core::Future<void> remove(const QString &name);

    // --- exposed ports (see VmPorts): a guest TCP port reached at a host
    // address and port, kept in the VM's record, relayed while it runs.
    using PortStatus = VmPorts::Status;
    Core::Expected<PortStatus> exposePort(const QString &vm, const PortExposure &request);
    Core::Expected<QList<PortStatus>> ports(const QString &vm) const;
    Core::Result unexposePort(const QString &vm, quint16 guestPort);
    VmPorts::Totals portTotals() const;

    // --- quotas (see hostquota.h): checked when a VM is created (its count,
    // the state directory's disk, and that its shape fits at all) and when
    // a VMM is about to run it (start, restore, fork: vCPUs and memory of
    // the VMs holding a VMM). None by default.
    void setQuota(const QuotaLimits &limits) { m_quota = limits; }
    const QuotaLimits &quota() const { return m_quota; }
    // Each owner's own limits (VMs, vCPUs, memory; see VmRecord::owner),
    // asked at every check, so a change counts at once; none by default.
    // The VMs an owner made count against both its limits and the host's.
    using OwnerQuota = std::function<QuotaLimits(const QString &owner)>;
    void setOwnerQuota(OwnerQuota ownerQuota) { m_ownerQuota = std::move(ownerQuota); }
    // What the VMs hold now; except: a VM left out (the one about to start);
    // owner: only the VMs it made (empty: all). diskBytes is counted (a walk
    // of the state directory) only when asked.
    QuotaUsage quotaUsage(const QString &except = QString(), bool withDisk = false, const QString &owner = QString()) const;

    // VMs started from now on may outlive this manager (QEMU only), so that
    // detachAll() can leave them running. Off by default; either way the
    // destructor stops every VM still attached.
    // Warm starts (see WarmStarts): a VM's first start restores its
    // template's warm snapshot of its shape when there is one (VmInfo::boot
    // "warm"), else boots cold and makes that snapshot in the background. A
    // VM with a NIC has snapshots of its own and starts warm only in a root
    // service (HostNetwork): the restored guest gets its own tap, address
    // and MAC. A warm start that fails boots cold. Off by default.
    void setWarmStart(bool on);
    bool warmStart() const { return m_warm != nullptr; }
    WarmStarts *warmStarts() const { return m_warm; }
    // The paused pool (see VmPool): the first start of a VM without a NIC
    // whose template and shape the pool holds claims a pooled VM (VmInfo::
    // boot "pool"), else starts warm or cold. Needs warm starts; turning
    // them off ends the pool. Pooled VMs count against the host's vCPU and
    // memory quotas and give way to VMs being started.
    Core::Result setPoolTargets(const QList<VmPool::Target> &targets);
    VmPool *pool() const { return m_pool; }

    void setDetachable(bool detachable) { m_detachable = detachable; }
    bool isDetachable() const { return m_detachable; }
    // Let go of every running or paused VM and leave it running; its record
    // says where to find it, and the next manager on this state directory
    // adopts it. VMs that cannot be left running (starting or stopping, or
    // started while not detachable) stay attached, so the destructor stops
    // them. Returns the names left running.
    QStringList detachAll();

Q_SIGNALS:
    void vmAdded(const QString &name);
    void vmRemoved(const QString &name);
    void vmStateChanged(const QString &name, Vm::VirtualMachine::State state);
    // Preparing the VM's image (building or finding it), in percent.
    void imageProgress(const QString &name, const QString &step, int percent);
    // A snapshot of the VM was taken or deleted.
    void snapshotsChanged(const QString &name);
    // The VM's exposed ports changed (added, removed, bound, connections).
    void portsChanged(const QString &name);
    // The pool's targets or what it holds changed (see pool()).
    void poolChanged();

private:
    using Entry = VmEntry;

    // Instantiate the VM from its template when that was not done yet.
    Core::Result ensureVm(Entry *entry) override;
    Core::Result prepareVmmStart(VmEntry *entry) override;
    void vmmStarted(const QString &name) override;
    Core::Expected<VmInfo> createVm(const QString &name, const QString &templateName, int vcpus, int memoryMiB, const Templates::NetworkSpec &network,
                                    const QString &owner) override;
    // A new VM's network: spec with the lowest slot and a MAC no other VM holds.
    Core::Expected<VmNetwork> assignNetwork(const Templates::NetworkSpec &spec, const QString &name) const;
    void vmmEnded(const QString &name, VirtualMachine::State state);
    void removeVm(const QString &name) override;
    Core::Expected<VmInfo> createEntry(const CreateOptions &options, const Templates::VmTemplate &tmpl);
    Core::Result checkCreateQuotas(const QString &owner, int vcpus, int memoryMiB) const;
    Core::Result checkStartQuotas(const VmRecord &record) const;
    Core::Result checkShape(const QString &owner, int vcpus, int memoryMiB) const;
    Core::Result resizeRecord(Entry *entry, const Resources &resources);
    Core::Future<void> resizeLive(Entry *entry, const Resources &resources);
    Core::Future<void> resizeVcpus(Entry *entry, int vcpus);
    Core::Future<void> startWarm(const QString &name);
    Core::Future<void> startPooled(const QString &name, std::unique_ptr<VirtualMachine> pooled);
    std::unique_ptr<VirtualMachine> takePooled(const VmEntry &entry, bool firstStart);
    Core::Result poolFits(int vcpus, qint64 memoryMiB, int pooledVcpus, qint64 pooledMemoryMiB) const;
    Core::Future<void> startCold(const QString &name, bool makeWarm);
    void startEnded(const QString &name, const Core::Result &r, const QString &boot);
    Core::Future<void> persistDesiredAfter(const QString &name, Core::Future<void> done, VmRecord::Desired desired);
    Core::Result forget(const QString &name);
    Core::Result removeVmFiles(const QString &name) const;

    const Vmm::VmmDriver &m_driver;
    bool m_detachable = false;
    QuotaLimits m_quota;
    OwnerQuota m_ownerQuota;
    QString m_stateDir;
    VmRegistry m_registry;
    QStringList m_loadWarnings;
    VmAdoption *m_adoption = nullptr;
    VmSnapshots *m_snapshots = nullptr;
    VmPorts *m_ports = nullptr;
    std::unique_ptr<VmNetworks> m_networks;
    WarmStarts *m_warm = nullptr;
    VmPool *m_pool = nullptr;
};

} // namespace Vm
