#include "core/vmm/chvmconfig.h"

#include <algorithm>

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace Vmm::ChVmConfig {

namespace {

constexpr qint64 kMiB = 1024 * 1024;
// The longest suffix cloud-hypervisor appends to the vsock socket path when
// the guest connects to a host port ("_" + a 32-bit port number).
constexpr int kVsockPortSuffixBytes = 11;
constexpr char kVmmDirName[] = "vmm";

QString runtimeFile(const VmSpec &spec, const QString &name)
{
    return QDir(QDir(spec.runtimeDir).absolutePath()).filePath(name);
}

Core::Error invalid(const QString &message)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, message);
}

} // namespace

QList<int> PassedFds::all() const
{
    QList<int> fds{vmmDir, kernel, initramfs, stateDir, restoreState, restoreMemory};
    fds += disks;
    fds.removeAll(-1);
    return fds;
}

QString procFdPath(int fd, const QString &name)
{
    const QString dir = QStringLiteral("/proc/self/fd/%1").arg(fd);
    return name.isEmpty() ? dir : dir + QLatin1Char('/') + name;
}

QStringList commandLine(int apiSocketFd)
{
    return QStringList{QStringLiteral("--api-socket"), QStringLiteral("fd=%1").arg(apiSocketFd), QStringLiteral("--seccomp"), QStringLiteral("true")};
}

QString apiSocketPath(const VmSpec &spec)
{
    return runtimeFile(spec, QStringLiteral("ch-api.sock"));
}

QString vmmDir(const VmSpec &spec)
{
    return runtimeFile(spec, QLatin1String(kVmmDirName));
}

QString vsockSocketPath(const VmSpec &spec)
{
    return QDir(vmmDir(spec)).filePath(QStringLiteral("vsock.sock"));
}

QString consoleSocketPath(const VmSpec &spec)
{
    return QDir(vmmDir(spec)).filePath(QStringLiteral("console.sock"));
}

QString restoreDir(const VmSpec &spec)
{
    return QDir(vmmDir(spec)).filePath(QStringLiteral("restore"));
}

QString vmmPath(const VmSpec &spec, const QString &hostPath, const std::optional<PassedFds> &fds)
{
    if (!fds || fds->vmmDir < 0)
        return hostPath;
    return procFdPath(fds->vmmDir, QDir(vmmDir(spec)).relativeFilePath(hostPath));
}

Core::Expected<QString> vmmSnapshotDir(const VmSpec &spec, const QString &directory, const std::optional<PassedFds> &fds)
{
    if (!fds)
        return directory;
    const QFileInfo dir(QDir::cleanPath(directory));
    if (fds->stateDir < 0 || spec.stateDir.isEmpty() || dir.absolutePath() != QDir::cleanPath(QDir().absoluteFilePath(spec.stateDir)))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("cloud-hypervisor runs as another user and writes snapshots only into the VM's state directory %1, not %2")
                               .arg(spec.stateDir, directory));
    return procFdPath(fds->stateDir, dir.fileName());
}

QString vmmLogPath(const VmSpec &spec)
{
    return runtimeFile(spec, QStringLiteral("vmm.log"));
}

Core::Result validate(const VmSpec &spec)
{
    if (spec.kernelPath.isEmpty())
        return invalid(QStringLiteral("no kernel: cloud-hypervisor boots a kernel directly, set one in the template"));
    if (spec.vcpus < 1)
        return invalid(QStringLiteral("vcpus must be at least 1 (got %1)").arg(spec.vcpus));
    if (spec.memoryMiB < kMinMemoryMiB)
        return invalid(QStringLiteral("memory must be at least %1 MiB (got %2 MiB)").arg(kMinMemoryMiB).arg(spec.memoryMiB));
    if (spec.vsockCid < kMinVsockCid || spec.vsockCid == kVsockCidAny)
        return invalid(QStringLiteral("vsock CID must be between %1 and %2 (got %3)").arg(kMinVsockCid).arg(kVsockCidAny - 1).arg(spec.vsockCid));
    if (spec.agentVsockPort == 0)
        return invalid(QStringLiteral("the guest agent's vsock port must not be 0"));
    if (!spec.extraSerialPorts.isEmpty())
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("cloud-hypervisor has no virtio-serial ports (extra ports: %1); use the QEMU driver")
                               .arg(spec.extraSerialPorts.join(QStringLiteral(", "))));
    if (spec.runtimeDir.isEmpty())
        return invalid(QStringLiteral("no runtime directory for the VM's sockets"));
    if (spec.nic && spec.nic->tapFd < 0)
        return invalid(QStringLiteral("the NIC has no tap descriptor"));
    if (spec.nic && !isUnicastMac(spec.nic->mac))
        return invalid(QStringLiteral("bad NIC MAC '%1' (six hex bytes, unicast)").arg(spec.nic->mac));
    const qsizetype longest = qMax(QFile::encodeName(apiSocketPath(spec)).size(), QFile::encodeName(vsockSocketPath(spec)).size() + kVsockPortSuffixBytes);
    if (longest > kMaxUnixSocketPathBytes)
        return invalid(QStringLiteral("runtime directory %1 is too long for Unix socket paths (at most %2 bytes per socket)")
                           .arg(spec.runtimeDir)
                           .arg(kMaxUnixSocketPathBytes));
    for (const DiskSpec &disk : spec.disks) {
        if (disk.path.isEmpty())
            return invalid(QStringLiteral("a disk has no path"));
        if (disk.format != QLatin1String("raw"))
            return Core::Error(
                Core::ErrorCode::Unsupported,
                QStringLiteral("disk %1 is %2: the cloud-hypervisor driver takes raw disks only (use --driver qemu)").arg(disk.path, disk.format));
    }
    return {};
}

QString guestCmdline(const VmSpec &spec)
{
    const QString args = spec.kernelCmdline.simplified();
    const QString console = QLatin1String(kGuestConsoleArg);
    return args.isEmpty() ? console : QString(args + QLatin1Char(' ') + console);
}

QJsonObject cpus(const VmSpec &spec)
{
    return QJsonObject{
        {QStringLiteral("boot_vcpus"), spec.vcpus},
        {QStringLiteral("max_vcpus"), std::max(spec.vcpus, spec.maxVcpus)},
    };
}

QJsonObject memory(const VmSpec &spec)
{
    return QJsonObject{{QStringLiteral("size"), qint64(spec.memoryMiB) * kMiB}};
}

namespace {

// `path`, or the descriptor that stands for it when one was passed.
QString named(const QString &path, int fd)
{
    return fd >= 0 ? procFdPath(fd) : path;
}

} // namespace

QJsonObject payload(const VmSpec &spec, const Fds &fds)
{
    QJsonObject p{
        {QStringLiteral("kernel"), named(spec.kernelPath, fds ? fds->kernel : -1)},
        {QStringLiteral("cmdline"), guestCmdline(spec)},
    };
    if (!spec.initramfsPath.isEmpty())
        p.insert(QStringLiteral("initramfs"), named(spec.initramfsPath, fds ? fds->initramfs : -1));
    return p;
}

QJsonArray disks(const VmSpec &spec, const Fds &fds)
{
    QJsonArray list;
    for (qsizetype i = 0; i < spec.disks.size(); ++i) {
        const DiskSpec &disk = spec.disks.at(i);
        // An explicit image_type (v51+; older releases ignore unknown keys)
        // stops format probing, and keeps sector 0 writable: an autodetected
        // raw image gets sector 0 writes disabled (vmm/src/device_manager.rs).
        list.append(QJsonObject{
            {QStringLiteral("path"), named(disk.path, fds && i < fds->disks.size() ? fds->disks.at(i) : -1)},
            {QStringLiteral("readonly"), disk.readOnly},
            {QStringLiteral("image_type"), QStringLiteral("Raw")},
        });
    }
    return list;
}

QJsonObject rng()
{
    return QJsonObject{{QStringLiteral("src"), QLatin1String(kRngSource)}};
}

QJsonObject vsock(const VmSpec &spec, const Fds &fds)
{
    return QJsonObject{
        {QStringLiteral("cid"), qint64(spec.vsockCid)},
        {QStringLiteral("socket"), vmmPath(spec, vsockSocketPath(spec), fds)},
    };
}

QJsonObject serial(const VmSpec &spec, const Fds &fds)
{
    if (spec.consoleLogPath.isEmpty())
        return QJsonObject{{QStringLiteral("mode"), QStringLiteral("Null")}};
    return QJsonObject{
        {QStringLiteral("mode"), QStringLiteral("Socket")},
        {QStringLiteral("socket"), vmmPath(spec, consoleSocketPath(spec), fds)},
    };
}

QJsonArray landlockRules(const VmSpec &spec, const Fds &fds)
{
    QJsonArray rules;
    if (!spec.stateDir.isEmpty())
        rules.append(QJsonObject{
            {QStringLiteral("path"), named(QDir::cleanPath(QDir().absoluteFilePath(spec.stateDir)), fds ? fds->stateDir : -1)},
            {QStringLiteral("access"), QStringLiteral("rw")},
        });
    return rules;
}

namespace {

void confine(QJsonObject &config, const VmSpec &spec, const Fds &fds)
{
    config.insert(QStringLiteral("landlock_enable"), true);
    const QJsonArray rules = landlockRules(spec, fds);
    if (rules.isEmpty())
        config.remove(QStringLiteral("landlock_rules"));
    else
        config.insert(QStringLiteral("landlock_rules"), rules);
}

} // namespace

Core::Expected<QJsonObject> vmAddNet(const VmSpec &spec)
{
    if (!spec.nic)
        return invalid(QStringLiteral("the VM has no NIC"));
    if (!isUnicastMac(spec.nic->mac))
        return invalid(QStringLiteral("bad NIC MAC '%1' (six hex bytes, unicast)").arg(spec.nic->mac));
    return QJsonObject{
        {QStringLiteral("id"), QLatin1String(kNetId)},
        {QStringLiteral("mac"), spec.nic->mac.toLower()},
        {QStringLiteral("num_queues"), kNetQueuesPerTapFd},
    };
}

namespace {

// The saved NIC (one, ours, by id) matches the spec's having one.
Core::Result checkSavedNic(const QJsonObject &config, const VmSpec &spec)
{
    const QJsonArray nets = config.value(QStringLiteral("net")).toArray();
    if (nets.isEmpty() && spec.nic)
        return invalid(QStringLiteral("the snapshot's VM has no NIC and this VM has one"));
    if (!nets.isEmpty() && !spec.nic)
        return invalid(QStringLiteral("the snapshot's VM has a NIC: restoring it needs a tap"));
    if (nets.size() > 1 || (!nets.isEmpty() && nets.first().toObject().value(QStringLiteral("id")).toString() != QLatin1String(kNetId)))
        return invalid(QStringLiteral("the snapshot's VM has NICs this service did not give it (one, id %1, expected)").arg(QLatin1String(kNetId)));
    return {};
}

} // namespace

Core::Expected<QJsonObject> retargetSnapshotConfig(const QJsonObject &config, const VmSpec &spec, const Fds &fds)
{
    if (auto ok = checkSavedNic(config, spec); !ok)
        return ok.error();
    QJsonObject out = config;
    QJsonArray savedDisks = config.value(QStringLiteral("disks")).toArray();
    if (savedDisks.size() != spec.disks.size())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("the snapshot has %1 disk(s), the VM %2").arg(savedDisks.size()).arg(spec.disks.size()));
    const QJsonArray ourDisks = disks(spec, fds);
    for (int i = 0; i < savedDisks.size(); ++i) {
        QJsonObject d = savedDisks.at(i).toObject();
        d.insert(QStringLiteral("path"), ourDisks.at(i).toObject().value(QStringLiteral("path")));
        savedDisks.replace(i, d);
    }
    if (!savedDisks.isEmpty())
        out.insert(QStringLiteral("disks"), savedDisks);
    QJsonObject v = config.value(QStringLiteral("vsock")).toObject();
    if (v.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the snapshot's VM has no vsock device (no guest agent channel)"));
    v.insert(QStringLiteral("socket"), vsock(spec, fds).value(QStringLiteral("socket")));
    out.insert(QStringLiteral("vsock"), v);
    out.insert(QStringLiteral("serial"), serial(spec, fds));
    confine(out, spec, fds);
    QJsonObject p = config.value(QStringLiteral("payload")).toObject();
    const QJsonObject ours = payload(spec, fds);
    p.insert(QStringLiteral("kernel"), ours.value(QStringLiteral("kernel")));
    if (!spec.initramfsPath.isEmpty())
        p.insert(QStringLiteral("initramfs"), ours.value(QStringLiteral("initramfs")));
    out.insert(QStringLiteral("payload"), p);
    return out;
}

// The balloon, empty at boot: memory given back and taken again while
// the VM runs (vm.resize desired_balloon), and free guest pages reported
// so the VMM drops them from its resident memory. No deflate on OOM: a
// shrunk guest really has less.
QJsonObject balloon()
{
    return QJsonObject{{QStringLiteral("size"), 0}, {QStringLiteral("deflate_on_oom"), false}, {QStringLiteral("free_page_reporting"), true}};
}

QJsonObject console()
{
    return QJsonObject{{QStringLiteral("mode"), QStringLiteral("Off")}};
}

Core::Expected<QJsonObject> vmCreate(const VmSpec &spec, const Fds &fds)
{
    if (auto ok = validate(spec); !ok)
        return ok.error();
    QJsonObject config{
        {QStringLiteral("cpus"), cpus(spec)},   {QStringLiteral("memory"), memory(spec)},    {QStringLiteral("payload"), payload(spec, fds)},
        {QStringLiteral("rng"), rng()},         {QStringLiteral("vsock"), vsock(spec, fds)}, {QStringLiteral("serial"), serial(spec, fds)},
        {QStringLiteral("console"), console()}, {QStringLiteral("balloon"), balloon()},
    };
    if (!spec.disks.isEmpty())
        config.insert(QStringLiteral("disks"), disks(spec, fds));
    confine(config, spec, fds);
    return config;
}

QString fileUrl(const QString &absolutePath)
{
    return QStringLiteral("file://") + QDir::cleanPath(absolutePath);
}

namespace {

Core::Expected<QString> snapshotUrl(const QString &directory)
{
    if (directory.isEmpty() || !QDir::isAbsolutePath(directory))
        return invalid(QStringLiteral("the snapshot directory must be an absolute path (got '%1')").arg(directory));
    return fileUrl(directory);
}

} // namespace

Core::Expected<QJsonObject> vmSnapshot(const QString &directory)
{
    const auto url = snapshotUrl(directory);
    if (!url)
        return url.error();
    return QJsonObject{{QStringLiteral("destination_url"), *url}};
}

Core::Expected<QJsonObject> vmRestore(const QString &directory, bool prefault, bool nic)
{
    const auto url = snapshotUrl(directory);
    if (!url)
        return url.error();
    QJsonObject body{
        {QStringLiteral("source_url"), *url},
        {QStringLiteral("prefault"), prefault},
    };
    if (nic)
        body.insert(QStringLiteral("net_fds"), QJsonArray{QJsonObject{{QStringLiteral("id"), QLatin1String(kNetId)}, {QStringLiteral("num_fds"), 1}}});
    return body;
}

Core::Expected<QJsonObject> vmResize(const Resize &resize)
{
    if (resize.vcpus < 0 || resize.memoryMiB < 0 || resize.balloonMiB.value_or(0) < 0)
        return invalid(QStringLiteral("resize values must not be negative"));
    if (resize.memoryMiB > 0 && resize.memoryMiB < kMinMemoryMiB)
        return invalid(QStringLiteral("memory must be at least %1 MiB (got %2 MiB)").arg(kMinMemoryMiB).arg(resize.memoryMiB));
    QJsonObject body;
    if (resize.vcpus > 0)
        body.insert(QStringLiteral("desired_vcpus"), resize.vcpus);
    if (resize.memoryMiB > 0)
        body.insert(QStringLiteral("desired_ram"), resize.memoryMiB * kMiB);
    if (resize.balloonMiB)
        body.insert(QStringLiteral("desired_balloon"), *resize.balloonMiB * kMiB);
    if (body.isEmpty())
        return invalid(QStringLiteral("a resize needs a vCPU count, a memory size or a balloon size"));
    return body;
}

} // namespace Vmm::ChVmConfig
