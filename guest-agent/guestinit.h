#pragma once
// Guest boot work done in-process (no shell, no fork per step: each fork+exec
// of busybox costs tens of milliseconds under TCG).

#include <cstdint>
#include <string>

namespace GuestAgent::GuestInit {

// `microvm-agent --init-setup`, run by busybox init as its sysinit step:
// mount the pseudo filesystems, load the kernel modules listed in
// /etc/modules (paths under /lib/modules, dependencies first) with
// finit_module, set the hostname from mvs.hostname=, bring up lo and, with
// mvs.net=<spec> (protocol/netspec.h), configure the NIC (NetConfig::apply).
// With mvs.floor=1 on the kernel command line it reboots at once instead
// (the benchmark's floor: the same boot, stopped at init). Filesystems that
// are already mounted are left alone, so a root disk's init can run it again
// after the initramfs switched into it. Returns the exit code.
int runSetup();

// `microvm-agent --reseed-rng`, run by the host after a VM was restored or
// forked from a snapshot: every copy starts with the snapshot's random
// number generator state, and the kernel reseeds only every minute once it
// has been up a while (the Debian kernel has no vmgenid driver to do it on
// a fork). Mixes the seed read from stdin (16 to 256 bytes, fresh from the
// host) into the input pool, credited (RNDADDENTROPY), and reseeds the CRNG
// from it at once (RNDRESEEDCRNG). Returns the exit code: 2 for a short
// seed, 1 when the kernel refuses.
int reseedRandom();

struct Channels {
    bool serial = false;
    bool vsock = false;
};
// Which agent channels this VM has: the named virtio-serial port (QEMU)
// and/or a virtio vsock device (cloud-hypervisor). Neither found: both, and
// the transports keep retrying.
Channels detectChannels(const std::string &portName);

} // namespace GuestAgent::GuestInit
