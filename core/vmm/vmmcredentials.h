#pragma once

#include "core/expected.h"

#include <QList>
#include <QString>

#include <optional>
#include <sys/types.h>

namespace Vmm {

// The system user a VMM runs as when the service runs as root: never root,
// never the service's uid. scripts/setup.sh creates it.
inline constexpr char kVmmUser[] = "microvm-sandbox-vmm";

// Who a VMM process becomes between fork and exec (VmmProcess).
struct VmmCredentials {
    QString user;
    uid_t uid = 0;
    gid_t gid = 0;
    QList<gid_t> groups; // supplementary groups (e.g. kvm), the primary one included
};

// The pure decision: a service that is not root starts its VMMs as itself
// (nothing); a root service as `user`, which must exist (looked up) and not
// be root itself. A missing user is an error naming the command that makes
// it: there is no fallback to root or nobody.
Core::Expected<std::optional<VmmCredentials>> decideVmmCredentials(uid_t serviceEuid, const QString &user, const std::optional<VmmCredentials> &lookedUp);

// The user's uid, primary gid and groups from the user database.
std::optional<VmmCredentials> lookUpUser(const QString &user);

// decideVmmCredentials for this process and kVmmUser.
Core::Expected<std::optional<VmmCredentials>> vmmCredentials();

// Whether `creds` may open a file with this owner, group and mode for
// reading (and writing), by the permission bits alone (no ACLs).
bool mayRead(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode);
bool mayReadWrite(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode);

} // namespace Vmm
