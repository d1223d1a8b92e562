#include "core/vmm/vmmcredentials.h"

#include <QByteArray>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QHash>
#include <QMutex>
#include <QMutexLocker>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace Vmm {

namespace {

constexpr size_t kPasswdBufferBytes = 16 * 1024;
constexpr int kMaxGroups = 256;
constexpr quint64 kMaxId = 0xfffffffeu; // (uid_t)-1 means "unchanged"
constexpr qint64 kIdentityClaimMs = 120 * 1000; // ample for a VMM to fork after its identity is chosen
constexpr qint64 kStatusFileMaxBytes = 64 * 1024;

// FNV-1a: stable across runs and Qt versions (qHash is seeded).
quint64 stableHash(const QString &key)
{
    constexpr quint64 kOffsetBasis = 14695981039346656037ull, kPrime = 1099511628211ull;
    quint64 h = kOffsetBasis;
    for (char c : key.toUtf8()) {
        h ^= quint8(c);
        h *= kPrime;
    }
    return h;
}

Core::Error noRangeError(const QString &user, const char *file)
{
    return Core::Error(Core::ErrorCode::PermissionDenied,
                       QStringLiteral("the service runs as root and starts each VMM as a uid and gid of its own out of the subordinate ids of %1, "
                                      "which has none in %2: add them with 'sudo scripts/setup.sh deps' or 'usermod --add-subuids "
                                      "100000-165535 --add-subgids 100000-165535 %1'")
                           .arg(user, QLatin1String(file)));
}

bool rangeFits(const SubIdRange &r)
{
    return r.count > 0 && r.first + r.count - 1 <= kMaxId;
}

// The uids recently handed out by vmmCredentialsFor, by VM key.
struct IdentityClaim {
    QString vmKey;
    qint64 atMs = 0;
};
QMutex g_claimsMutex;
QHash<uid_t, IdentityClaim> g_claims;

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

QList<SubIdRange> parseSubIds(const QByteArray &text)
{
    QList<SubIdRange> ranges;
    for (const QByteArray &raw : text.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const QList<QByteArray> fields = line.split(':');
        if (fields.size() != 3 || fields.at(0).isEmpty())
            continue;
        bool firstOk = false, countOk = false;
        const quint64 first = fields.at(1).toULongLong(&firstOk);
        const quint64 count = fields.at(2).toULongLong(&countOk);
        if (firstOk && countOk)
            ranges.append(SubIdRange{QString::fromUtf8(fields.at(0)), first, count});
    }
    return ranges;
}

std::optional<SubIdRange> subIdRangeOf(const QList<SubIdRange> &ranges, const QString &user, uid_t uid)
{
    for (const SubIdRange &r : ranges)
        if (r.owner == user || r.owner == QString::number(uid))
            return r;
    return std::nullopt;
}

Core::Expected<VmmCredentials> chooseVmIdentity(const VmmCredentials &vmmUser, const QByteArray &subuid, const QByteArray &subgid, const QString &vmKey,
                                                const QSet<uid_t> &inUse, uid_t serviceUid)
{
    const auto uids = subIdRangeOf(parseSubIds(subuid), vmmUser.user, vmmUser.uid);
    if (!uids || !rangeFits(*uids))
        return noRangeError(vmmUser.user, kSubUidFile);
    const auto gids = subIdRangeOf(parseSubIds(subgid), vmmUser.user, vmmUser.uid);
    if (!gids || !rangeFits(*gids))
        return noRangeError(vmmUser.user, kSubGidFile);
    const quint64 count = std::min(uids->count, gids->count);
    const quint64 start = stableHash(vmKey) % count;
    for (quint64 i = 0; i < count; ++i) {
        const quint64 offset = (start + i) % count;
        const uid_t uid = uid_t(uids->first + offset);
        const gid_t gid = gid_t(gids->first + offset);
        if (uid == 0 || gid == 0 || uid == serviceUid || uid == vmmUser.uid || gid == vmmUser.gid || inUse.contains(uid))
            continue;
        VmmCredentials creds;
        creds.user = vmmUser.user;
        creds.uid = uid;
        creds.gid = gid;
        creds.groups = {gid};
        for (gid_t g : vmmUser.groups)
            if (g != vmmUser.gid && g != 0 && !creds.groups.contains(g))
                creds.groups.append(g);
        return creds;
    }
    return Core::Error(Core::ErrorCode::PermissionDenied,
                       QStringLiteral("every subordinate uid of %1 (%2 from %3) is in use: no VMM can start").arg(vmmUser.user).arg(count).arg(uids->first));
}

QSet<uid_t> uidsInUse(const QString &procDir)
{
    QSet<uid_t> uids;
    const QStringList pids = QDir(procDir).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &pid : pids) {
        if (pid.isEmpty() || !pid.at(0).isDigit())
            continue;
        QFile status(procDir + QLatin1Char('/') + pid + QStringLiteral("/status"));
        if (!status.open(QIODevice::ReadOnly))
            continue; // gone meanwhile
        for (const QByteArray &line : status.read(kStatusFileMaxBytes).split('\n')) {
            if (!line.startsWith("Uid:"))
                continue;
            // real, effective, saved and filesystem uid: any of them counts
            for (const QByteArray &field : line.mid(4).simplified().split(' ')) {
                bool ok = false;
                const uint uid = field.toUInt(&ok);
                if (ok)
                    uids.insert(uid_t(uid));
            }
            break;
        }
    }
    return uids;
}

namespace {

QByteArray readSmallFile(const char *path)
{
    QFile f(QString::fromLatin1(path));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Adds the uids claimed for other VMs to `inUse`, forgetting old claims.
void addOthersClaims(QSet<uid_t> &inUse, const QString &vmKey, qint64 nowMs)
{
    for (auto it = g_claims.begin(); it != g_claims.end();) {
        if (nowMs - it->atMs > kIdentityClaimMs) {
            it = g_claims.erase(it);
            continue;
        }
        if (it->vmKey != vmKey)
            inUse.insert(it.key());
        ++it;
    }
}

} // namespace

Core::Expected<std::optional<VmmCredentials>> vmmCredentialsFor(const QString &vmKey)
{
    auto vmmUser = vmmCredentials();
    if (!vmmUser || !*vmmUser)
        return vmmUser;
    QSet<uid_t> inUse = uidsInUse();
    QMutexLocker lock(&g_claimsMutex);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    addOthersClaims(inUse, vmKey, now);
    auto chosen = chooseVmIdentity(**vmmUser, readSmallFile(kSubUidFile), readSmallFile(kSubGidFile), vmKey, inUse, ::geteuid());
    if (!chosen)
        return chosen.error();
    g_claims.insert(chosen->uid, IdentityClaim{vmKey, now});
    return std::optional<VmmCredentials>(*chosen);
}

QString describe(const VmmCredentials &creds)
{
    return QStringLiteral("uid %1 gid %2 (%3's subordinate ids)").arg(creds.uid).arg(creds.gid).arg(creds.user);
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
