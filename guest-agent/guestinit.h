#pragma once
// Guest boot work done in-process (no shell, no fork per step: each fork+exec
// of busybox costs tens of milliseconds under TCG).

#include <cstdint>
#include <string>

namespace GuestAgent::GuestInit {

// `microvm-agent --init-setup`, run by busybox init as its sysinit step:
// mount the pseudo filesystems, load the kernel modules listed in
// /etc/modules (paths under /lib/modules, dependencies first) with
// finit_module, set the hostname from mvs.hostname= and bring up lo.
// With mvs.floor=1 on the kernel command line it reboots at once instead
// (the benchmark's floor: the same boot, stopped at init). Filesystems that
// are already mounted are left alone, so a root disk's init can run it again
// after the initramfs switched into it. Returns the exit code.
int runSetup();

struct Channels {
    bool serial = false;
    bool vsock = false;
};
// Which agent channels this VM has: the named virtio-serial port (QEMU)
// and/or a virtio vsock device (cloud-hypervisor). Neither found: both, and
// the transports keep retrying.
Channels detectChannels(const std::string &portName);

} // namespace GuestAgent::GuestInit
