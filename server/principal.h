#pragma once
// Who a request comes from, once its credential was checked: the token's id,
// its role and the VMs it may touch. Roles are ordered: each one may do what
// the ones below it may.
//   viewer:   read state, screenshots, watch a display (read-only)
//   operator: also create and drive VMs (exec, files, input, snapshots,
//             processes, code, take-over of a display)
//   admin:    everything, tokens and the audit log included
// Routes declare the least role they want (RouteFlags::role).

#include <QString>

#include <optional>

namespace Server {

enum class Role {
    Undecided, // a route nobody decided about: tst_routeroles fails on it
    Viewer,
    Operator,
    Admin,
};

// "viewer", "operator", "admin" (and "undecided").
QString roleName(Role role);
// The role a name means; nullopt for any other word (and "undecided").
std::optional<Role> parseRole(const QString &name);

struct Principal {
    // The admin token of the token file (TokenStore): its id in the audit log.
    static inline const QString kAdminTokenId = QStringLiteral("token-file");

    QString tokenId;
    Role role = Role::Viewer;
    // A glob on VM names ("ci-*", '*' and '?' only); empty: every VM.
    QString vmGlob;

    bool atLeast(Role wanted) const { return wanted != Role::Undecided && role >= wanted; }
    // Whether this caller may touch the VM called name.
    bool mayUseVm(const QString &name) const;

    static Principal admin() { return {kAdminTokenId, Role::Admin, {}}; }
};

// Whether name fits a glob of '*' (any run) and '?' (one character); other
// characters match themselves.
bool globMatches(const QString &glob, const QString &name);

} // namespace Server
