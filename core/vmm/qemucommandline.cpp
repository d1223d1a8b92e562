#include "core/vmm/qemucommandline.h"

#include <QDir>
#include <QRegularExpression>

namespace Vmm::QemuCommandLine {

QString qmpSocketPath(const VmSpec &spec)
{
    return QDir(spec.runtimeDir).filePath(QStringLiteral("qmp.sock"));
}

QString agentSocketPath(const VmSpec &spec)
{
    return QDir(spec.runtimeDir).filePath(QStringLiteral("agent.sock"));
}

QString consoleSocketPath(const VmSpec &spec)
{
    return QDir(spec.runtimeDir).filePath(QStringLiteral("console.sock"));
}

QString extraPortSocketPath(const VmSpec &spec, const QString &portName)
{
    return QDir(spec.runtimeDir).filePath(portName + QStringLiteral(".sock"));
}

Core::Result validate(const VmSpec &spec)
{
    auto invalid = [](const QString &m) { return Core::Error(Core::ErrorCode::InvalidArgument, m); };
    if (spec.kernelPath.isEmpty())
        return invalid(QStringLiteral("no kernel given"));
    if (spec.vcpus < 1 || spec.vcpus > 255)
        return invalid(QStringLiteral("vcpus must be between 1 and 255, not %1").arg(spec.vcpus));
    if (spec.memoryMiB < 64)
        return invalid(QStringLiteral("memory must be at least 64 MiB, not %1").arg(spec.memoryMiB));
    if (spec.runtimeDir.isEmpty())
        return invalid(QStringLiteral("no runtime directory given"));
    // A Unix socket path is limited to 107 bytes (sun_path).
    if (qmpSocketPath(spec).toLocal8Bit().size() > 107)
        return invalid(QStringLiteral("runtime directory path too long for Unix sockets: %1").arg(spec.runtimeDir));
    for (const DiskSpec &d : spec.disks) {
        if (d.format != QLatin1String("raw") && d.format != QLatin1String("qcow2"))
            return invalid(QStringLiteral("unknown disk format '%1' (raw or qcow2)").arg(d.format));
        if (d.path.contains(QLatin1Char(',')))
            return invalid(QStringLiteral("disk paths may not contain commas: %1").arg(d.path));
    }
    if (spec.kernelPath.contains(QLatin1Char(',')) || spec.initramfsPath.contains(QLatin1Char(',')) || spec.runtimeDir.contains(QLatin1Char(','))
        || spec.consoleLogPath.contains(QLatin1Char(',')))
        return invalid(QStringLiteral("paths given to QEMU may not contain commas"));
    if (spec.nic && spec.nic->tapFd < 0)
        return invalid(QStringLiteral("the NIC has no tap descriptor"));
    if (spec.nic && !isUnicastMac(spec.nic->mac))
        return invalid(QStringLiteral("bad NIC MAC '%1' (six hex bytes, unicast)").arg(spec.nic->mac));
    static const QRegularExpression portName(QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9._-]{1,64}")));
    if (!portName.match(spec.agentPortName).hasMatch())
        return invalid(QStringLiteral("bad agent port name '%1'").arg(spec.agentPortName));
    for (const QString &p : spec.extraSerialPorts)
        if (!portName.match(p).hasMatch() || p == spec.agentPortName)
            return invalid(QStringLiteral("bad extra serial port name '%1'").arg(p));
    return {};
}

QString kernelCmdline(const VmSpec &spec)
{
    QString cmdline = spec.kernelCmdline.trimmed();
    if (!cmdline.isEmpty())
        cmdline += QLatin1Char(' ');
    // reboot=t + -no-reboot: a guest reboot or poweroff ends QEMU.
    // panic=-1: a panic reboots at once, which ends QEMU too.
    cmdline += QStringLiteral("console=ttyS0 reboot=t panic=-1");
    return cmdline;
}

QList<int> PassedFds::all() const
{
    QList<int> fds{kernel, initramfs, qmpSocket, agentSocket, consoleSocket};
    fds += extraPortSockets;
    for (const Disk &d : disks)
        fds << d.file << d.backing;
    fds.removeAll(-1);
    return fds;
}

QList<int> inheritedFds(const VmSpec &spec, const std::optional<PassedFds> &fds)
{
    QList<int> all = fds ? fds->all() : QList<int>();
    if (spec.nic)
        all << spec.nic->tapFd;
    return all;
}

namespace {

QString procFd(int fd)
{
    return QStringLiteral("/proc/self/fd/%1").arg(fd);
}

// A listening chardev socket: at `path`, or on a descriptor bound for QEMU.
QString socketChardev(const QString &id, const QString &path, int fd)
{
    const QString where = fd >= 0 ? QStringLiteral("fd=%1").arg(fd) : QStringLiteral("path=%1").arg(path);
    return QStringLiteral("socket,id=%1,%2,server=on,wait=off").arg(id, where);
}

int fdAt(const std::optional<PassedFds> &fds, int PassedFds::*member)
{
    return fds ? (*fds).*member : -1;
}

// clang-format off
// A disk by path, or its descriptor in fd set 2i+1 (and a qcow2's base in
// 2i+2, as a read-only node of its own).
QStringList diskArgs(const DiskSpec &d, int i, const std::optional<PassedFds> &fds)
{
    const QString ro = d.readOnly ? QStringLiteral(",read-only=on") : QString();
    const PassedFds::Disk passed = fds ? fds->disks.value(i) : PassedFds::Disk{};
    QStringList a;
    QString file = d.path, backing;
    if (fds) {
        a << QStringLiteral("-add-fd") << QStringLiteral("fd=%1,set=%2").arg(passed.file).arg(2 * i + 1);
        file = QStringLiteral("/dev/fdset/%1").arg(2 * i + 1);
    }
    if (fds && passed.backing >= 0) {
        a << QStringLiteral("-add-fd") << QStringLiteral("fd=%1,set=%2").arg(passed.backing).arg(2 * i + 2)
          << QStringLiteral("-blockdev") << QStringLiteral("driver=file,node-name=base%1-file,filename=/dev/fdset/%2,read-only=on").arg(i).arg(2 * i + 2)
          << QStringLiteral("-blockdev") << QStringLiteral("driver=%1,node-name=base%2,file=base%2-file,read-only=on").arg(passed.backingFormat).arg(i);
        backing = QStringLiteral(",backing=base%1").arg(i);
    }
    a << QStringLiteral("-blockdev") << QStringLiteral("driver=file,node-name=file%1,filename=%2%3").arg(i).arg(file, ro)
      << QStringLiteral("-blockdev") << QStringLiteral("driver=%1,node-name=disk%2,file=file%2%3%4").arg(d.format).arg(i).arg(backing, ro)
      << QStringLiteral("-device") << QStringLiteral("virtio-blk-pci,drive=disk%1").arg(i);
    return a;
}

// The NIC on the tap this process opened (QEMU inherits the descriptor).
// vhost stays off: /dev/vhost-net is root's and QEMU runs as the VM's own
// user. No option ROM: the kernel is booted directly, nothing PXE-boots.
QStringList nicArgs(const NicSpec &nic)
{
    return {QStringLiteral("-netdev"), QStringLiteral("tap,id=net0,fd=%1,vhost=off").arg(nic.tapFd),
            QStringLiteral("-device"), QStringLiteral("virtio-net-pci,netdev=net0,mac=%1,romfile=").arg(nic.mac.toLower())};
}

// With a hot-plug ceiling, the slots above the boot vCPUs (QEMU 7.2 puts
// them in one socket as cores; query-hotpluggable-cpus names them).
QString smp(const VmSpec &spec)
{
    if (spec.maxVcpus <= spec.vcpus)
        return QString::number(spec.vcpus);
    return QStringLiteral("%1,maxcpus=%2").arg(spec.vcpus).arg(spec.maxVcpus);
}

} // namespace

// One option and its value per line, as QEMU documents them.
QStringList build(const VmSpec &spec, Accel accel, Boot boot, const std::optional<PassedFds> &fds)
{
    const QString machine = spec.machine.isEmpty() ? QString::fromLatin1(kDefaultMachine) : spec.machine;
    QStringList a;
    a << QStringLiteral("-name") << QStringLiteral("guest=%1,debug-threads=on").arg(spec.name)
      << QStringLiteral("-machine") << machine + (accel == Accel::Kvm ? QStringLiteral(",accel=kvm") : QStringLiteral(",accel=tcg"))
      << QStringLiteral("-cpu") << (accel == Accel::Kvm ? QStringLiteral("host") : QStringLiteral("max"))
      << QStringLiteral("-smp") << smp(spec)
      << QStringLiteral("-m") << QStringLiteral("%1M").arg(spec.memoryMiB)
      << QStringLiteral("-nodefaults") << QStringLiteral("-no-user-config")
      << QStringLiteral("-display") << QStringLiteral("none")
      << QStringLiteral("-vga") << QStringLiteral("none")
      << QStringLiteral("-no-reboot")
      << QStringLiteral("-sandbox") << QStringLiteral("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
      << QStringLiteral("-kernel") << (fds ? procFd(fds->kernel) : spec.kernelPath);
    if (!spec.initramfsPath.isEmpty())
        a << QStringLiteral("-initrd") << (fds ? procFd(fds->initramfs) : spec.initramfsPath);
    a << QStringLiteral("-append") << kernelCmdline(spec);

    // Serial console (ttyS0) on a socket this process reads (ConsoleLog),
    // so QEMU writes no host file for the guest and the log stays capped.
    if (spec.consoleLogPath.isEmpty())
        a << QStringLiteral("-serial") << QStringLiteral("null");
    else
        a << QStringLiteral("-chardev") << socketChardev(QStringLiteral("serial0"), consoleSocketPath(spec), fdAt(fds, &PassedFds::consoleSocket))
          << QStringLiteral("-serial") << QStringLiteral("chardev:serial0");

    // Control: QMP on a Unix socket the instance connects to.
    a << QStringLiteral("-chardev") << socketChardev(QStringLiteral("qmp0"), qmpSocketPath(spec), fdAt(fds, &PassedFds::qmpSocket))
      << QStringLiteral("-mon") << QStringLiteral("chardev=qmp0,mode=control");

    // Guest agent: one named virtio-serial port.
    a << QStringLiteral("-device") << QStringLiteral("virtio-serial-pci,id=vser0")
      << QStringLiteral("-chardev") << socketChardev(QStringLiteral("agent0"), agentSocketPath(spec), fdAt(fds, &PassedFds::agentSocket))
      << QStringLiteral("-device") << QStringLiteral("virtserialport,bus=vser0.0,nr=1,chardev=agent0,name=%1").arg(spec.agentPortName);

    for (int i = 0; i < spec.extraSerialPorts.size(); ++i) {
        const QString &port = spec.extraSerialPorts.at(i);
        a << QStringLiteral("-chardev") << socketChardev(QStringLiteral("port%1").arg(i), extraPortSocketPath(spec, port), fds ? fds->extraPortSockets.value(i, -1) : -1)
          << QStringLiteral("-device") << QStringLiteral("virtserialport,bus=vser0.0,nr=%1,chardev=port%2,name=%3").arg(i + 2).arg(i).arg(port);
    }

    // Entropy, so the guest never blocks waiting for randomness.
    a << QStringLiteral("-object") << QStringLiteral("rng-random,id=rng0,filename=/dev/urandom")
      << QStringLiteral("-device") << QStringLiteral("virtio-rng-pci,rng=rng0");

    for (int i = 0; i < spec.disks.size(); ++i)
        a << diskArgs(spec.disks.at(i), i, fds);
    // A restore (Incoming) gets the tap of this start; the saved virtio-net
    // state brings back the snapshot's MAC over this mac=.
    if (spec.nic)
        a << nicArgs(*spec.nic);
    // Memory given back and taken again while the VM runs (the balloon),
    // and free guest pages reported to QEMU, which drops them from its
    // resident memory: an idle guest costs the host what it uses. Last, so
    // the devices before it keep their PCI addresses.
    a << QStringLiteral("-device") << QStringLiteral("virtio-balloon-pci,id=balloon0,free-page-reporting=on");
    if (boot == Boot::Incoming)
        a << QStringLiteral("-incoming") << QStringLiteral("defer");
    return a;
}
// clang-format on

} // namespace Vmm::QemuCommandLine
