#pragma once
// What a root service does so that cloud-hypervisor, running as the VMM user
// (vmmcredentials.h), reaches its VM's files and nothing else of the
// service's: cloud-hypervisor opens every file by path (disks and payload
// have no descriptor form in its API, unlike --api-socket fd=N), so it is
// handed descriptors named /proc/self/fd/N (ChVmConfig::PassedFds). Those
// reach the file without walking the service's private directories, but the
// kernel still checks the file's own mode against the VMM user; the pure
// decisions here say what must change for that.

#include "core/expected.h"
#include "core/vmm/chvmconfig.h"
#include "core/vmm/vmmcredentials.h"
#include "core/vmm/vmmfiles.h"

#include <optional>
#include <sys/types.h>

namespace Vmm {

// The VMM's own directory (ChVmConfig::vmmDir): it binds its sockets there.
inline constexpr mode_t kChVmmDirMode = 0700;
// The VM's snapshot directory: its group is the VMM user's, which may look
// up a name in it (a staging directory it was lent) but not list it, nor
// write to it, nor enter the finished snapshots (root's, 0700).
inline constexpr mode_t kChStateDirMode = 0710;

// A file's group and mode after the service lets `creds` use it.
struct AccessGrant {
    gid_t group = 0;
    mode_t mode = 0;
    bool operator==(const AccessGrant &) const = default;
};

// Pure: nothing when `creds` may already read (and with `write`, write) a
// file with this owner, group and mode; otherwise the file goes to
// creds.gid (the VMM user's own group, its only member) and the group gets
// read (and write) added. The owner and the others keep what they had.
std::optional<AccessGrant> accessGrant(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode, bool write);

// Pure: the owner, group and mode a directory the service lends to the VMM
// takes (`lent`) or gets back (not `lent`: the service's own, 0700).
struct DirOwnership {
    uid_t owner = 0;
    gid_t group = 0;
    mode_t mode = 0;
    bool operator==(const DirOwnership &) const = default;
};
DirOwnership lentDirOwnership(const VmmCredentials &creds, uid_t serviceUid, gid_t serviceGid, bool lent);

// Makes `path` the VMM's directory: created if missing; with `creds` owned by
// that user, kChVmmDirMode.
Core::Result prepareChVmmDir(const QString &path, const std::optional<VmmCredentials> &creds);
// The state directory searchable by `creds` (kChStateDirMode, its group).
Core::Result prepareChStateDir(const QString &path, const VmmCredentials &creds);
// Lends a directory to `creds` (its owner while cloud-hypervisor writes a
// snapshot into it) or takes it back for this process's user.
Core::Result lendDirectory(const QString &path, const VmmCredentials &creds, bool lent);

// Opens what cloud-hypervisor needs of `spec` for it to run as `creds`:
// its directory and the state directory (prepared first), the kernel and
// initramfs (which must be readable by others, as in the image cache), the
// disks (given to creds' group by accessGrant when needed).
Core::Expected<ChVmConfig::PassedFds> openChFds(const VmSpec &spec, const VmmCredentials &creds, HeldFds &held);
// Adds a snapshot's state.json and memory-ranges from `snapshotDir` (read
// through the links in ChVmConfig::restoreDir; granted read when needed).
Core::Result openChRestoreFds(const QString &snapshotDir, const VmmCredentials &creds, HeldFds &held, ChVmConfig::PassedFds &fds);

} // namespace Vmm
