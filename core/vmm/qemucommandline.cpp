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

// One option and its value per line, as QEMU documents them.
// clang-format off
QStringList build(const VmSpec &spec, Accel accel, Boot boot)
{
    const QString machine = spec.machine.isEmpty() ? QString::fromLatin1(kDefaultMachine) : spec.machine;
    QStringList a;
    a << QStringLiteral("-name") << QStringLiteral("guest=%1,debug-threads=on").arg(spec.name)
      << QStringLiteral("-machine") << machine + (accel == Accel::Kvm ? QStringLiteral(",accel=kvm") : QStringLiteral(",accel=tcg"))
      << QStringLiteral("-cpu") << (accel == Accel::Kvm ? QStringLiteral("host") : QStringLiteral("max"))
      << QStringLiteral("-smp") << QString::number(spec.vcpus)
      << QStringLiteral("-m") << QStringLiteral("%1M").arg(spec.memoryMiB)
      << QStringLiteral("-nodefaults") << QStringLiteral("-no-user-config")
      << QStringLiteral("-display") << QStringLiteral("none")
      << QStringLiteral("-vga") << QStringLiteral("none")
      << QStringLiteral("-no-reboot")
      << QStringLiteral("-sandbox") << QStringLiteral("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
      << QStringLiteral("-kernel") << spec.kernelPath;
    if (!spec.initramfsPath.isEmpty())
        a << QStringLiteral("-initrd") << spec.initramfsPath;
    a << QStringLiteral("-append") << kernelCmdline(spec);

    // Serial console (ttyS0) on a socket this process reads (ConsoleLog),
    // so QEMU writes no host file for the guest and the log stays capped.
    if (spec.consoleLogPath.isEmpty())
        a << QStringLiteral("-serial") << QStringLiteral("null");
    else
        a << QStringLiteral("-chardev") << QStringLiteral("socket,id=serial0,path=%1,server=on,wait=off").arg(consoleSocketPath(spec))
          << QStringLiteral("-serial") << QStringLiteral("chardev:serial0");

    // Control: QMP on a Unix socket the instance connects to.
    a << QStringLiteral("-chardev") << QStringLiteral("socket,id=qmp0,path=%1,server=on,wait=off").arg(qmpSocketPath(spec))
      << QStringLiteral("-mon") << QStringLiteral("chardev=qmp0,mode=control");

    // Guest agent: one named virtio-serial port.
    a << QStringLiteral("-device") << QStringLiteral("virtio-serial-pci,id=vser0")
      << QStringLiteral("-chardev") << QStringLiteral("socket,id=agent0,path=%1,server=on,wait=off").arg(agentSocketPath(spec))
      << QStringLiteral("-device") << QStringLiteral("virtserialport,bus=vser0.0,nr=1,chardev=agent0,name=%1").arg(spec.agentPortName);

    for (int i = 0; i < spec.extraSerialPorts.size(); ++i) {
        const QString &port = spec.extraSerialPorts.at(i);
        a << QStringLiteral("-chardev") << QStringLiteral("socket,id=port%1,path=%2,server=on,wait=off").arg(i).arg(extraPortSocketPath(spec, port))
          << QStringLiteral("-device") << QStringLiteral("virtserialport,bus=vser0.0,nr=%1,chardev=port%2,name=%3").arg(i + 2).arg(i).arg(port);
    }

    // Entropy, so the guest never blocks waiting for randomness.
    a << QStringLiteral("-object") << QStringLiteral("rng-random,id=rng0,filename=/dev/urandom")
      << QStringLiteral("-device") << QStringLiteral("virtio-rng-pci,rng=rng0");

    for (int i = 0; i < spec.disks.size(); ++i) {
        const DiskSpec &d = spec.disks.at(i);
        a << QStringLiteral("-blockdev")
          << QStringLiteral("driver=file,node-name=file%1,filename=%2%3").arg(i).arg(d.path, d.readOnly ? QStringLiteral(",read-only=on") : QString())
          << QStringLiteral("-blockdev")
          << QStringLiteral("driver=%1,node-name=disk%2,file=file%2%3").arg(d.format).arg(i).arg(d.readOnly ? QStringLiteral(",read-only=on") : QString())
          << QStringLiteral("-device") << QStringLiteral("virtio-blk-pci,drive=disk%1").arg(i);
    }
    if (boot == Boot::Incoming)
        a << QStringLiteral("-incoming") << QStringLiteral("defer");
    return a;
}
// clang-format on

} // namespace Vmm::QemuCommandLine
