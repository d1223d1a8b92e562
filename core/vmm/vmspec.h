#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace Vmm {

struct DiskSpec {
    QString path;
    QString format = QStringLiteral("raw"); // "raw" or "qcow2" (qcow2: QEMU only)
    bool readOnly = false;
};

// Everything a driver needs to start one VM. Pure data, built by core from a
// template; drivers turn it into a command line (QEMU) or API bodies (CH).
struct VmSpec {
    QString name;
    int vcpus = 1;
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
