#pragma once
// VmSpec -> cloud-hypervisor API bodies. Pure functions, no I/O: one small
// builder per VmConfig section (libvirt's virCHMonitorBuild*Json), assembled
// by vmCreate(). Every key emitted here exists in the OpenAPI spec
// (vmm/src/api/openapi/cloud-hypervisor.yaml); tst_chvmconfig checks them
// against tests/core/data/ch/openapi-fields.json.

#include "core/expected.h"
#include "core/vmm/vmspec.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QStringList>

#include <optional>

namespace Vmm::ChVmConfig {

inline constexpr int kMinMemoryMiB = 64;
inline constexpr quint32 kMinVsockCid = 3; // 0-2 are reserved (hypervisor, local, host)
inline constexpr quint32 kVsockCidAny = 0xFFFFFFFFu; // VMADDR_CID_ANY
// sizeof(sockaddr_un::sun_path) minus the terminating NUL.
inline constexpr int kMaxUnixSocketPathBytes = 107;
// The guest's entropy source for virtio-rng.
inline constexpr char kRngSource[] = "/dev/urandom";
// The serial console (16550A, ttyS0) is the one the driver logs; the driver
// owns console arguments and appends this to the guest command line.
inline constexpr char kGuestConsoleArg[] = "console=ttyS0";
// The id of the VM's NIC (NetConfig.id), which vm.restore's net_fds name.
inline constexpr char kNetId[] = "net0";
// A tap's queues: one pair (rx, tx) per descriptor.
inline constexpr int kNetQueuesPerTapFd = 2;

// What a cloud-hypervisor that runs as another user (a root service's VMM
// user, who can reach no path of the service) is handed instead of paths:
// descriptors it inherits, named in its config as /proc/self/fd/N (the
// kernel resolves those without walking the directories above the file, and
// still checks the file's own mode; cloud-hypervisor's landlock rules resolve
// them the same way). -1: not passed.
struct PassedFds {
    int vmmDir = -1; // vmmDir(spec), the VMM user's own: it binds its vsock and console sockets there
    int kernel = -1;
    int initramfs = -1;
    QList<int> disks; // in spec.disks order
    int stateDir = -1; // spec.stateDir, searchable by the VMM user: snapshots go into its staging directories
    int restoreState = -1; // startFromState: the snapshot's state.json
    int restoreMemory = -1; // and memory-ranges, linked from restoreDir()
    QList<int> all() const;
};

// "/proc/self/fd/<fd>", with "/<name>" when given: a file in that directory.
QString procFdPath(int fd, const QString &name = QString());

// cloud-hypervisor's command line: the API socket we bound (its descriptor)
// and its seccomp filters, stated although they are its default. Not
// --landlock: since v43 it belongs to the VM arguments, which require a
// payload on the command line (cloud-hypervisor/src/main.rs, ArgGroup
// "vm-config" requires "vm-payload"); landlock_enable in vm.create is used.
QStringList commandLine(int apiSocketFd);

// Files the driver keeps in spec.runtimeDir (absolute paths).
// The API socket: bound and listened on by ChInstance, inherited by
// cloud-hypervisor as --api-socket fd=N.
QString apiSocketPath(const VmSpec &spec); // <runtimeDir>/ch-api.sock
// The directory cloud-hypervisor creates its sockets in (it binds them
// itself); the VMM user's own when it runs as one (ChInstance).
QString vmmDir(const VmSpec &spec); // <runtimeDir>/vmm
// The hybrid-vsock socket (VsockConfig.socket). Host -> guest: connect here
// and send "CONNECT <port>\n". Guest -> host port P: cloud-hypervisor connects
// to "<this path>_P", so the path leaves room for "_4294967295".
QString vsockSocketPath(const VmSpec &spec); // <runtimeDir>/vmm/vsock.sock
// The serial console, served by cloud-hypervisor (SerialConfig mode Socket)
// and read by ConsoleLog into spec.consoleLogPath.
QString consoleSocketPath(const VmSpec &spec); // <runtimeDir>/vmm/console.sock
// Where startFromState puts the config.json it restores from, with links to
// the snapshot's other files.
QString restoreDir(const VmSpec &spec); // <runtimeDir>/vmm/restore
// `hostPath` (a file in vmmDir) as cloud-hypervisor names it: through
// fds->vmmDir when given, else the path itself.
QString vmmPath(const VmSpec &spec, const QString &hostPath, const std::optional<PassedFds> &fds);
// A snapshot directory as cloud-hypervisor names it: with descriptors it
// must be a directory directly in spec.stateDir (a staging directory of the
// VM's snapshot store), reached through fds->stateDir.
Core::Expected<QString> vmmSnapshotDir(const VmSpec &spec, const QString &directory, const std::optional<PassedFds> &fds);
// cloud-hypervisor's own stdout/stderr (VmmProcess output log).
QString vmmLogPath(const VmSpec &spec); // <runtimeDir>/vmm.log

// Whether cloud-hypervisor can run this spec: a kernel, vcpus >= 1, memory >=
// kMinMemoryMiB, a usable vsock CID and agent port, raw disks with paths, a
// runtime directory short enough for its Unix sockets. InvalidArgument (or
// Unsupported for qcow2 disks) with a one-line reason otherwise.
Core::Result validate(const VmSpec &spec);

// spec.kernelCmdline with kGuestConsoleArg appended.
QString guestCmdline(const VmSpec &spec);

// The sections of vm.create. They do not validate; vmCreate() does. With
// `fds`, the files are named by descriptor (PassedFds).
using Fds = std::optional<PassedFds>;
QJsonObject cpus(const VmSpec &spec); // CpusConfig: boot_vcpus = spec.vcpus, max_vcpus = spec.maxVcpus (at least boot_vcpus)
QJsonObject memory(const VmSpec &spec); // MemoryConfig: size in bytes
QJsonObject payload(const VmSpec &spec, const Fds &fds = std::nullopt); // PayloadConfig: kernel, cmdline, initramfs (if any)
QJsonArray disks(const VmSpec &spec, const Fds &fds = std::nullopt); // DiskConfig[]: path, readonly, image_type "Raw"
QJsonObject rng(); // RngConfig: src
QJsonObject vsock(const VmSpec &spec, const Fds &fds = std::nullopt); // VsockConfig: cid, socket
// SerialConfig: mode Socket at consoleSocketPath (mode Null without a
// console log): cloud-hypervisor writes no host file for the guest.
QJsonObject serial(const VmSpec &spec, const Fds &fds = std::nullopt);
// VmConfig landlock_rules (LandlockConfig[]): what cloud-hypervisor may touch
// beyond the files of its own config, which its landlock ruleset covers by
// itself (vmm/src/vm_config.rs, ApplyLandlock: disks rw, payload r, the
// vsock socket's directory w): the state directory, read and written, for
// vm.snapshot. Landlock is applied once, at vm.create (or vm.restore), and
// rules cannot be added later, so the whole directory is granted up front.
// Empty without one. A path the VMM cannot open is silently dropped from
// the ruleset (landlock crate, path_beneath_rules), so with descriptors it is
// named by fds->stateDir.
QJsonArray landlockRules(const VmSpec &spec, const Fds &fds = std::nullopt);
// ConsoleConfig: mode Off. virtio-console (hvc0) has no socket mode and the
// serial port carries the console, so the second console device is dropped.
QJsonObject console();
// BalloonConfig: size 0, free_page_reporting, no deflate_on_oom.
QJsonObject balloon();

// NetConfig of the spec's NIC for vm.add-net: id kNetId, its MAC, one queue
// pair; no tap name and no address (the host configures the tap, the guest
// agent the guest). The tap is not named in the body: it goes with the
// request as a descriptor (ChApiClient::addNet), since vm.create takes
// none (vmm/src/api/http/http_endpoint.rs, VmCreate). The VM is created
// without a NIC and the NIC added before vm.boot. InvalidArgument without
// a NIC.
Core::Expected<QJsonObject> vmAddNet(const VmSpec &spec);

// The body of PUT vm.create (VmConfig), after validate(). landlock_enable
// is set: cloud-hypervisor confines itself to its config's files and
// landlockRules() once the VM is created (docs/landlock.md); its default
// seccomp filters are on (--seccomp true, commandLine()).
Core::Expected<QJsonObject> vmCreate(const VmSpec &spec, const Fds &fds = std::nullopt);

// PUT vm.snapshot (VmSnapshotConfig). `directory` must be absolute; it must
// exist when the call is made (not checked here). cloud-hypervisor strips
// "file://" without percent-decoding, so the URL is built literally.
Core::Expected<QJsonObject> vmSnapshot(const QString &directory);
// PUT vm.restore (RestoreConfig): source_url and prefault, the fields
// every release accepts (resume and memory_restore_mode need v52+), and
// with `nic` net_fds naming kNetId with one descriptor, the new tap sent
// along (ChApiClient::restoreVm): a saved NIC's descriptors are not valid
// any more (vmm/src/config.rs, RestoreConfig::validate requires them).
Core::Expected<QJsonObject> vmRestore(const QString &directory, bool prefault = false, bool nic = false);

// The files vm.snapshot writes into its directory (vmm/src/migration and
// memory_manager.rs).
inline constexpr const char *kSnapshotFiles[] = {"config.json", "state.json", "memory-ranges"};
// A snapshot's config.json (VmConfig) pointed at another VM's files: its
// vsock socket, serial console socket, landlock rules, disks (same count, in
// order) and payload become the spec's, so a snapshot restores into a VM with its own runtime directory
// (a fork) without touching the snapshot. Everything else (CPUs, memory,
// devices) stays as saved; a disk count that differs is an error, and so
// is a NIC in one and not the other. The saved NIC stays as it was (its
// MAC too: the device state brings the saved MAC back whatever the
// config says; the guest agent's --configure-net sets the fork's), its
// tap comes with vm.restore.
Core::Expected<QJsonObject> retargetSnapshotConfig(const QJsonObject &config, const VmSpec &spec, const Fds &fds = std::nullopt);

// PUT vm.resize (VmResize). Zero leaves vCPUs and RAM unchanged, no value
// the balloon; at least one must be set (a balloon of 0 gives the guest
// all its memory back). vCPUs go up to cpus()' max_vcpus; growing RAM past
// its boot size needs hotplug_size, which memory() does not configure.
struct Resize {
    int vcpus = 0;
    qint64 memoryMiB = 0;
    std::optional<qint64> balloonMiB = std::nullopt;
};
Core::Expected<QJsonObject> vmResize(const Resize &resize);

// "file://" + absolute path, the URL form vm.snapshot and vm.restore take.
QString fileUrl(const QString &absolutePath);

} // namespace Vmm::ChVmConfig
