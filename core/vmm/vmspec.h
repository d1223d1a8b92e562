#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace Vmm {

struct DiskSpec {
    QString path;
    QString format = QStringLiteral("raw"); // "raw" or "qcow2" (qcow2: QEMU only)
    bool readOnly = false;
};

// One virtio-net NIC, backed by a TAP device the caller opened (IFF_TAP |
// IFF_NO_PI | IFF_VNET_HDR, which a QEMU snapshot taken with it requires of
// the tap it is restored with). The caller keeps tapFd open until start()
// or startFromState() has resolved; the VMM holds its own copy from then
// on (QEMU inherits it: -netdev tap,fd=N; cloud-hypervisor receives it with
// SCM_RIGHTS on vm.add-net, or vm.restore's net_fds). A restore may be
// given another tap than the snapshot's: the saved device keeps the saved
// MAC, which the guest agent's --configure-net sets to `mac` again.
struct NicSpec {
    int tapFd = -1;
    QString mac; // the guest's, "0a:1b:2c:3d:4e:5f" (Net::macForVm)
};

// Whether `mac` is six colon-separated hex bytes naming a unicast address,
// the form both VMMs take.
inline bool isUnicastMac(const QString &mac)
{
    const QStringList bytes = mac.split(QLatin1Char(':'));
    if (bytes.size() != 6)
        return false;
    auto hex = [](QChar c) { return (c >= QLatin1Char('0') && c <= QLatin1Char('9')) || (c.toLower() >= QLatin1Char('a') && c.toLower() <= QLatin1Char('f')); };
    for (const QString &b : bytes)
        if (b.size() != 2 || !hex(b.at(0)) || !hex(b.at(1)))
            return false;
    return (bytes.first().toUInt(nullptr, 16) & 1u) == 0;
}

// Everything a driver needs to start one VM. Pure data, built by core from a
// template; drivers turn it into a command line (QEMU) or API bodies (CH).
struct VmSpec {
    QString name;
    int vcpus = 1;
    // The most vCPUs it may have while it runs (VmmInstance::setVcpus); 0,
    // or not above vcpus: none can be added. QEMU: -smp vcpus,maxcpus=...,
    // cloud-hypervisor: max_vcpus.
    int maxVcpus = 0;
    int memoryMiB = 256;
    QString kernelPath; // bzImage (QEMU, CH) or PVH vmlinux (CH)
    QString initramfsPath; // may be empty when booting from a disk
    QString kernelCmdline; // the guest's arguments; the driver appends its console settings
    QList<DiskSpec> disks;
    QString runtimeDir; // private per-VM directory for sockets; exists before start()
    QString consoleLogPath; // the guest's serial console, written (capped) by ConsoleLog from the VMM's console socket
    // Where the VMM writes saved states (the VM's snapshot directory), for
    // cloud-hypervisor's landlock rules; empty: it may write none.
    QString stateDir;
    // Guest agent channel. QEMU: a virtio-serial port with this name.
    // cloud-hypervisor: vsock with this CID, agent listening on agentVsockPort.
    QString agentPortName = QStringLiteral("org.microvm.agent");
    quint32 vsockCid = 3;
    quint32 agentVsockPort = 1024;
    // The VM's NIC; none: the VM has no network device.
    std::optional<NicSpec> nic;
    // QEMU only: more named virtio-serial ports, each served on
    // <runtimeDir>/<name>.sock (e.g. a peer agent for benchmarks).
    QStringList extraSerialPorts;
    // QEMU only: machine type ("q35", "pc", "microvm"; empty = driver default)
    // and accelerator ("auto", "kvm", "tcg").
    QString machine;
    QString accel = QStringLiteral("auto");
    // QEMU only: start the VMM so that it may outlive this process (detached,
    // no parent-death signal); see VmmInstance::detach.
    bool persistent = false;
};

// How to reach the guest agent from the host: a Unix socket path, and for
// hybrid vsock (cloud-hypervisor) the guest port to send as "CONNECT <port>\n".
struct AgentEndpoint {
    QString socketPath;
    quint32 vsockPort = 0; // 0: the socket is the agent's byte stream itself
};

} // namespace Vmm
