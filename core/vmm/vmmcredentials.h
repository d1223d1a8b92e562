#pragma once

#include "core/expected.h"

#include <QByteArray>
#include <QList>
#include <QSet>
#include <QString>

#include <optional>
#include <sys/types.h>

namespace Vmm {

// The system user a VMM runs as when the service runs as root: never root,
// never the service's uid. scripts/setup.sh creates it.
inline constexpr char kVmmUser[] = "microvm-sandbox-vmm";

// Where the VMM user's subordinate ids are listed (shadow-utils' format,
// "owner:first:count"): scripts/setup.sh reserves a range for it.
inline constexpr char kSubUidFile[] = "/etc/subuid";
inline constexpr char kSubGidFile[] = "/etc/subgid";

// Who a VMM process becomes between fork and exec (VmmProcess). For a root
// service each VM has its own uid and gid out of the VMM user's
// subordinate ranges; `user` stays the VMM user's name (what an
// administrator changes, e.g. its groups).
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

// One line of /etc/subuid or /etc/subgid: the owner is a name or a uid.
struct SubIdRange {
    QString owner;
    quint64 first = 0;
    quint64 count = 0;
};

// The ranges in such a file; comments, blank and malformed lines are skipped.
QList<SubIdRange> parseSubIds(const QByteArray &text);

// The first range whose owner is `user` or `uid`, if any.
std::optional<SubIdRange> subIdRangeOf(const QList<SubIdRange> &ranges, const QString &user, uid_t uid);

// The pure choice of a VM's own identity: offset = hash(vmKey) mod count,
// probing forward past uids in `inUse` (live processes), 0, `serviceUid`
// and the VMM user's own uid and gid; uid = uids.first + offset, gid =
// gids.first + offset. Groups: the gid and the VMM user's supplementary
// groups (e.g. kvm) but not its primary group. Without a range for the VMM
// user (subuid or subgid text): an error naming the command that adds one.
Core::Expected<VmmCredentials> chooseVmIdentity(const VmmCredentials &vmmUser, const QByteArray &subuid, const QByteArray &subgid, const QString &vmKey,
                                                const QSet<uid_t> &inUse, uid_t serviceUid);

// The uids of the processes listed in `procDir` ("Uid:" of each status file).
QSet<uid_t> uidsInUse(const QString &procDir = QStringLiteral("/proc"));

// vmmCredentials(), then, for a root service, the VM's own identity (read
// from kSubUidFile, kSubGidFile and /proc). A uid handed out here is kept
// for vmKey for a while (kIdentityClaimMs) so that a VM starting meanwhile,
// whose VMM has not forked yet, does not get it too.
Core::Expected<std::optional<VmmCredentials>> vmmCredentialsFor(const QString &vmKey);

// "uid 165536 gid 165536 (microvm-sandbox-vmm's subordinate ids)", for logs.
QString describe(const VmmCredentials &creds);

// Whether `creds` may open a file with this owner, group and mode for
// reading (and writing), by the permission bits alone (no ACLs).
bool mayRead(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode);
bool mayReadWrite(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode);

} // namespace Vmm
