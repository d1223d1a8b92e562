#include "server/principal.h"

namespace Server {

QString roleName(Role role)
{
    switch (role) {
    case Role::Viewer: return QStringLiteral("viewer");
    case Role::Operator: return QStringLiteral("operator");
    case Role::Admin: return QStringLiteral("admin");
    case Role::Undecided: break;
    }
    return QStringLiteral("undecided");
}

std::optional<Role> parseRole(const QString &name)
{
    for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
        if (name == roleName(r))
            return r;
    }
    return std::nullopt;
}

bool Principal::mayUseVm(const QString &name) const
{
    return vmGlob.isEmpty() || globMatches(vmGlob, name);
}

bool globMatches(const QString &glob, const QString &name)
{
    // Iterative match with one backtrack point per '*': linear in practice.
    qsizetype g = 0, n = 0, star = -1, mark = 0;
    while (n < name.size()) {
        if (g < glob.size() && (glob.at(g) == QLatin1Char('?') || glob.at(g) == name.at(n))) {
            ++g;
            ++n;
        } else if (g < glob.size() && glob.at(g) == QLatin1Char('*')) {
            star = g++;
            mark = n;
        } else if (star >= 0) {
            g = star + 1;
            n = ++mark;
        } else {
            return false;
        }
    }
    while (g < glob.size() && glob.at(g) == QLatin1Char('*'))
        ++g;
    return g == glob.size();
}

} // namespace Server
