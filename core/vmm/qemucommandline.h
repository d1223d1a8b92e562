#pragma once

#include "core/expected.h"
#include "core/vmm/vmspec.h"

#include <QStringList>

#include <optional>

namespace Vmm {

// Pure functions that turn a VmSpec into QEMU's command line. No I/O: golden
// tests pin the output (tests/core/tst_qemucommandline.cpp).
namespace QemuCommandLine {

enum class Accel { Kvm, Tcg };
// Fresh: boot the kernel. Incoming: wait for a saved state (-incoming defer),
// loaded with migrate-incoming.
enum class Boot { Fresh, Incoming };

// Where the instance keeps its sockets, derived from spec.runtimeDir.
QString qmpSocketPath(const VmSpec &spec);
QString agentSocketPath(const VmSpec &spec);
// The serial console (ttyS0), served by QEMU; ConsoleLog reads it into
// spec.consoleLogPath. No console socket when the spec has no log.
QString consoleSocketPath(const VmSpec &spec);
QString extraPortSocketPath(const VmSpec &spec, const QString &portName);

// Machine type used when the spec leaves it empty. q35 with virtio-pci boots
// Debian's kernel reliably under TCG (microvm with ACPI hangs in 20-40 % of
// boots; microvm without ACPI needs virtio-mmio command-line devices).
inline constexpr const char *kDefaultMachine = "q35";

// Descriptors this process opened for a QEMU that runs as another user
// (VmmCredentials) and cannot open our files by path: QEMU inherits them.
// The sockets are bound here and handed over (chardev fd=); the kernel and
// initramfs are read through /proc/self/fd/N (QEMU's loader opens a path);
// disks go into fd sets (-add-fd, /dev/fdset/N), and a qcow2's backing file
// is a node of its own (backing=), so QEMU never opens the path recorded in
// the overlay.
struct PassedFds {
    struct Disk {
        int file = -1;
        int backing = -1; // a qcow2 overlay's base, -1 for none
        QString backingFormat = QStringLiteral("raw");
    };
    int kernel = -1;
    int initramfs = -1; // -1 when the spec has none
    int qmpSocket = -1;
    int agentSocket = -1;
    int consoleSocket = -1; // -1 when the spec has no console log
    QList<int> extraPortSockets; // as spec.extraSerialPorts
    QList<Disk> disks; // as spec.disks

    // Every descriptor above, for VmmProcess::setInheritedFds. The NIC's
    // tap (spec.nic) is not one of them: it is inherited with or without
    // PassedFds (inheritedFds()).
    QList<int> all() const;
};

// What QEMU inherits for `spec`: fds->all() and the NIC's tap.
QList<int> inheritedFds(const VmSpec &spec, const std::optional<PassedFds> &fds);

Core::Result validate(const VmSpec &spec);
// Everything after the program name. With `fds`, QEMU opens nothing of the
// spec's by path.
QStringList build(const VmSpec &spec, Accel accel, Boot boot = Boot::Fresh, const std::optional<PassedFds> &fds = std::nullopt);
// The guest kernel command line: the spec's, plus the console and the
// reboot/panic settings that make a guest poweroff or panic end QEMU.
QString kernelCmdline(const VmSpec &spec);

} // namespace QemuCommandLine
} // namespace Vmm
