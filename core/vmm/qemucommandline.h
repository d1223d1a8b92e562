#pragma once

#include "core/expected.h"
#include "core/vmm/vmspec.h"

#include <QStringList>

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

Core::Result validate(const VmSpec &spec);
// Everything after the program name.
QStringList build(const VmSpec &spec, Accel accel, Boot boot = Boot::Fresh);
// The guest kernel command line: the spec's, plus the console and the
// reboot/panic settings that make a guest poweroff or panic end QEMU.
QString kernelCmdline(const VmSpec &spec);

} // namespace QemuCommandLine
} // namespace Vmm
