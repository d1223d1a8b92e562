#include "core/vmm/vmmcredentials.h"

#include <QByteArray>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace Vmm {

namespace {

constexpr size_t kPasswdBufferBytes = 16 * 1024;
constexpr int kMaxGroups = 256;

} // namespace

Core::Expected<std::optional<VmmCredentials>> decideVmmCredentials(uid_t serviceEuid, const QString &user, const std::optional<VmmCredentials> &lookedUp)
{
    if (serviceEuid != 0)
        return std::optional<VmmCredentials>();
    if (!lookedUp)
        return Core::Error(Core::ErrorCode::PermissionDenied,
                           QStringLiteral("the service runs as root and starts its VMMs as the user %1, which does not exist: create it with "
                                          "'sudo scripts/setup.sh deps' or 'useradd --system --no-create-home --shell /usr/sbin/nologin "
                                          "--user-group %1'")
                               .arg(user));
    if (lookedUp->uid == 0 || lookedUp->gid == 0)
        return Core::Error(Core::ErrorCode::PermissionDenied,
                           QStringLiteral("the VMM user %1 has uid %2 and gid %3: it must not be root").arg(user).arg(lookedUp->uid).arg(lookedUp->gid));
    return lookedUp;
}

std::optional<VmmCredentials> lookUpUser(const QString &user)
{
    const QByteArray name = user.toLocal8Bit();
    std::vector<char> buffer(kPasswdBufferBytes);
    passwd pw{};
    passwd *found = nullptr;
    if (::getpwnam_r(name.constData(), &pw, buffer.data(), buffer.size(), &found) != 0 || !found)
        return std::nullopt;
    VmmCredentials creds;
    creds.user = user;
    creds.uid = found->pw_uid;
    creds.gid = found->pw_gid;
    std::vector<gid_t> groups(kMaxGroups);
    int count = kMaxGroups;
    if (::getgrouplist(name.constData(), found->pw_gid, groups.data(), &count) < 0)
        count = 0; // more than kMaxGroups: keep the primary group only
    for (int i = 0; i < count; ++i)
        creds.groups.append(groups.at(size_t(i)));
    if (!creds.groups.contains(creds.gid))
        creds.groups.append(creds.gid);
    return creds;
}

Core::Expected<std::optional<VmmCredentials>> vmmCredentials()
{
    const uid_t euid = ::geteuid();
    const QString user = QString::fromLatin1(kVmmUser);
    return decideVmmCredentials(euid, user, euid == 0 ? lookUpUser(user) : std::nullopt);
}

namespace {

// `bits` as owner bits (S_IRUSR, S_IWUSR); the class that applies must have them all.
bool mayAccess(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode, mode_t bits)
{
    constexpr int kGroupShift = 3, kOtherShift = 6;
    if (owner == creds.uid)
        return (mode & bits) == bits;
    if (creds.groups.contains(group))
        return (mode & (bits >> kGroupShift)) == (bits >> kGroupShift);
    return (mode & (bits >> kOtherShift)) == (bits >> kOtherShift);
}

} // namespace

bool mayRead(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode)
{
    return mayAccess(creds, owner, group, mode, S_IRUSR);
}

bool mayReadWrite(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode)
{
    return mayAccess(creds, owner, group, mode, S_IRUSR | S_IWUSR);
}

} // namespace Vmm
