#pragma once

#include "core/async.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmspec.h"

#include <QObject>

namespace Vmm {

class ConsoleLog;

// One VMM process running one VM. Implementations: QemuInstance, ChInstance.
// Every call is asynchronous and verifies the state transition it asked for
// with the VMM (query-status / vm.info) before resolving.
class VmmInstance : public QObject {
    Q_OBJECT
public:
    enum class State { NotStarted, Starting, Running, Paused, Stopping, Stopped, Failed };
    Q_ENUM(State)

    using QObject::QObject;
    ~VmmInstance() override = default;

    virtual QString driverName() const = 0;
    virtual const VmSpec &spec() const = 0;
    virtual State state() const = 0;
    virtual qint64 pid() const = 0;

    // Spawn the VMM, create and boot the VM. Resolves once the VMM reports the
    // VM running (the guest agent is not necessarily up yet).
    virtual Core::Future<void> start() = 0;
    virtual Core::Future<void> pause() = 0;
    virtual Core::Future<void> resume() = 0;
    // Stop the VMM: ask it to quit, wait (named deadline), SIGKILL if it does
    // not; then reap it and remove every socket it used. Always ends Stopped.
    virtual Core::Future<void> shutdown() = 0;
    // SIGKILL now, reap, remove sockets. Synchronous; for teardown paths
    // (destructors, Ctrl-C). Safe to call in any state, more than once.
    virtual void kill() = 0;

    // Snapshots. saveState: the VM must be paused. Writes the VMM's memory and
    // device state into `directory` (absolute, existing, empty); see
    // stateFiles(). Disk images are not included: once this resolves they are
    // flushed and consistent on disk until the VM runs again, so copy them
    // before resume(). The VM stays paused; a failed save leaves it paused
    // and able to resume.
    virtual Core::Future<void> saveState(const QString &directory) = 0;
    // Instead of start(): spawn the VMM, load the state saveState wrote into
    // `directory` (the spec must describe the same hardware; paths may
    // differ), and run the VM. Resolves once the restored VM runs.
    // savedBy: the vmmVersion() that saved it. A VMM of another version is
    // refused (Unsupported) before it loads anything: neither QEMU with
    // unversioned machine types nor cloud-hypervisor loads another
    // version's state reliably.
    virtual Core::Future<void> startFromState(const QString &directory, const QString &savedBy = QString()) = 0;
    // The VMM's version ("7.2.22"), known once it is up; empty before.
    virtual QString vmmVersion() const { return {}; }
    // Ask a saveState under way to stop: it then fails with Cancelled and
    // the VM stays paused, as after any failed save. False when no save is
    // under way or this VMM cannot stop one (cloud-hypervisor cannot).
    virtual bool cancelSaveState() { return false; }
    // The files saveState writes, relative to its directory.
    virtual QStringList stateFiles() const = 0;

    // Live memory, through the balloon: the guest gives memory back to the
    // host, or takes it again, up to what it booted with (spec().memoryMiB).
    // Running VMs only. Resolves with the guest's memory in MiB once the
    // VMM reports the balloon at the target; fails with Timeout when the
    // guest has not followed within the driver's deadline (the target
    // stays set, and the guest may still get there). The default says the
    // driver cannot (Unsupported).
    virtual Core::Future<qint64> setMemory(qint64 targetMiB);
    // The guest's memory now as the VMM sees it (what it booted with, less
    // the balloon), in MiB.
    virtual Core::Future<qint64> memory();
    // Live vCPUs: added to or removed from a running VM, between 1 and
    // spec().maxVcpus (the guest onlines added ones itself, or is told to;
    // a removed one is ejected by the guest's ACPI, which offlines it).
    // QEMU adds only (see QemuInstance::setVcpus); cloud-hypervisor both.
    // Resolves with the count once the VMM reports it; Timeout when the
    // guest has not let a vCPU go within the driver's deadline. The default
    // says the driver cannot (Unsupported).
    virtual Core::Future<int> setVcpus(int count);
    // The vCPUs the VM has now, as the VMM sees them.
    virtual Core::Future<int> vcpus();

    virtual AgentEndpoint agentEndpoint() const = 0;
    QString consoleLogPath() const { return spec().consoleLogPath; }

    // Whether the VM runs with hardware acceleration (KVM), known after start.
    virtual bool accelerated() const = 0;

    // Leaving a VMM running past this process (VmSpec::persistent). The
    // defaults say the driver cannot.
    //
    // How a later process finds this VMM (persistent, Running or Paused),
    // without letting go of it. driver and runtimeDir are the caller's to fill.
    virtual Core::Expected<DetachedVmm> handle() const;
    // Running or Paused: stop watching the VMM and leave it running, with
    // its sockets. Afterwards the instance is Stopped and kill() does
    // nothing. driver and runtimeDir of the result are the caller's to fill.
    virtual Core::Expected<DetachedVmm> detach();
    // Instead of start(): take over a VMM left running by an earlier process.
    // Resolves once the VMM answered and reported the VM running or paused
    // (state() says which). The spec's runtimeDir must be the VMM's.
    virtual Core::Future<void> adopt(const DetachedVmm &vmm);

Q_SIGNALS:
    void stateChanged(Vmm::VmmInstance::State state);
    // The VMM process ended without being asked to (crash, kill -9, guest
    // poweroff). state() is Failed or Stopped by then.
    void exitedUnexpectedly(const Core::Error &reason);

protected:
    // setMemory's checks: a running VM, a target between 1 MiB and its boot size.
    Core::Result checkMemoryTarget(qint64 targetMiB) const;
    // After the VMM was asked for targetMiB: memory() every intervalMs
    // until it reports the target (resolves with it), or Timeout past
    // timeoutMs, naming where the guest got to.
    Core::Future<qint64> awaitMemory(qint64 targetMiB, int timeoutMs, int intervalMs);
    // setVcpus' checks: a running VM, a count between 1 and its ceiling.
    Core::Result checkVcpuTarget(int count) const;
    // vcpus() every intervalMs until it reports count, as awaitMemory.
    Core::Future<int> awaitVcpus(int count, int timeoutMs, int intervalMs);
    // The drivers serve the guest's serial console on a socket: read it into
    // consoleLogPath() (a ConsoleLog, capped), from now on. No-op without a
    // console log. closeConsole(): stop reading (a detached VM).
    void readConsole(const QString &socketPath);
    void closeConsole();

private:
    ConsoleLog *m_console = nullptr;
};

QString stateName(VmmInstance::State state);

} // namespace Vmm
