#pragma once

#include "core/expected.h"

#include <QString>

namespace Net {

// A VM's NIC on the host: a TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR), non-persistent: it exists while a descriptor of it is open
// and disappears with the last one. Its descriptor is what the VMM gets
// (QEMU `-netdev tap,fd=N`, which probes the virtio-net header with
// TUNGETIFF and uses it when IFF_VNET_HDR is set; cloud-hypervisor `net`
// fd=[N]). Opened close-on-exec: pass it with VmmProcess::setInheritedFds.
//
// Owns the descriptor (move-only): destroying the last holder closes it.
// Once the VMM has its copy, the service may close its own (reset()): the
// tap then lives exactly as long as the VMM. Needs CAP_NET_ADMIN.
class TapDevice {
public:
    static constexpr int kMaxNameLength = 15; // IFNAMSIZ - 1

    // Creates the tap `name`; AlreadyExists when an interface has that name.
    static Core::Expected<TapDevice> create(const QString &name);

    // A copy of the descriptor of tap `name` that process pid holds (a VMM
    // left running by an earlier life of the service): found in its
    // /proc/<pid>/fdinfo ("iff:" line), taken with pidfd_getfd(2) and
    // checked with TUNGETIFF. NotFound when the process holds none;
    // PermissionDenied without CAP_SYS_PTRACE over it.
    static Core::Expected<TapDevice> fromProcess(qint64 pid, const QString &name);

    // A tap's descriptor received from elsewhere (RootlessNetwork's helper),
    // owned from now on (closed on failure too): it must be tap `name`, with
    // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (TUNGETIFF). The tap may live in
    // another network namespace. Protocol when it is not.
    static Core::Expected<TapDevice> fromDescriptor(int fd, const QString &name);

    TapDevice() = default;
    TapDevice(TapDevice &&other) noexcept;
    TapDevice &operator=(TapDevice &&other) noexcept;
    TapDevice(const TapDevice &) = delete;
    TapDevice &operator=(const TapDevice &) = delete;
    ~TapDevice();

    bool isValid() const { return m_fd >= 0; }
    int fd() const { return m_fd; }
    QString name() const { return m_name; }
    // Closes this descriptor (the tap goes when no other process holds one).
    void reset();
    // Gives the descriptor up to the caller, who closes it.
    int release();

    static bool isValidName(const QString &name);

private:
    int m_fd = -1;
    QString m_name;
};

} // namespace Net
