#include "core/vmm/chvmmfiles.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Vmm {

namespace {

constexpr mode_t kPermissionBits = 07777;
constexpr mode_t kPrivateDirMode = 0700;

QString why(int err)
{
    return QString::fromLocal8Bit(std::strerror(err));
}

Core::Error ioError(const QString &what, const QString &path, int err)
{
    return Core::Error(err == ENOENT                       ? Core::ErrorCode::NotFound
                           : err == EACCES || err == EPERM ? Core::ErrorCode::PermissionDenied
                                                           : Core::ErrorCode::Io,
                       QStringLiteral("cannot %1 %2: %3").arg(what, path, why(err)));
}

Core::Expected<int> openHeld(const QString &path, int flags, HeldFds &held)
{
    const int fd = ::open(QFile::encodeName(path).constData(), flags | O_CLOEXEC);
    if (fd < 0)
        return ioError(QStringLiteral("open"), path, errno);
    return held.keep(fd);
}

Core::Result applyOwnership(const QString &path, const DirOwnership &o)
{
    const QByteArray native = QFile::encodeName(path);
    if (::lchown(native.constData(), o.owner, o.group) != 0 || ::chmod(native.constData(), o.mode) != 0)
        return ioError(QStringLiteral("hand over"), path, errno);
    return {};
}

// Opens `path` and lets `creds` use the file (accessGrant), which must then
// be true: a file cloud-hypervisor cannot open fails here, with its name.
Core::Expected<int> openGranted(const QString &what, const QString &path, bool write, const VmmCredentials &creds, HeldFds &held)
{
    auto fd = openHeld(path, (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW, held);
    if (!fd)
        return Core::Error(fd.error().code, QStringLiteral("%1: %2").arg(what, fd.error().message));
    struct stat st { };
    if (::fstat(*fd, &st) != 0)
        return ioError(QStringLiteral("read the mode of"), path, errno);
    const auto grant = accessGrant(creds, st.st_uid, st.st_gid, st.st_mode, write);
    if (grant && (::fchown(*fd, uid_t(-1), grant->group) != 0 || ::fchmod(*fd, grant->mode) != 0))
        return ioError(QStringLiteral("let %1 use the %2").arg(creds.user, what), path, errno);
    return fd;
}

// The kernel and initramfs are shared by every VM of an image: they are
// not regranted, they must be readable by others (the image cache's 0644).
Core::Expected<int> openReadableByOthers(const QString &what, const QString &path, const VmmCredentials &creds, HeldFds &held)
{
    auto fd = openHeld(path, O_RDONLY, held);
    if (!fd)
        return Core::Error(fd.error().code, QStringLiteral("%1: %2").arg(what, fd.error().message));
    struct stat st { };
    if (::fstat(*fd, &st) != 0 || !mayRead(creds, st.st_uid, st.st_gid, st.st_mode))
        return Core::Error(Core::ErrorCode::PermissionDenied,
                           QStringLiteral("cloud-hypervisor runs as %1, which cannot read the %2 %3 (mode %4): it must be readable by others")
                               .arg(creds.user, what, path, QString::number(st.st_mode & kPermissionBits, 8)));
    return fd;
}

} // namespace

std::optional<AccessGrant> accessGrant(const VmmCredentials &creds, uid_t owner, gid_t group, mode_t mode, bool write)
{
    if (write ? mayReadWrite(creds, owner, group, mode) : mayRead(creds, owner, group, mode))
        return std::nullopt;
    const mode_t bits = mode & kPermissionBits;
    if (owner == creds.uid) // the owner class applies: group bits would not count
        return AccessGrant{group, mode_t(bits | S_IRUSR | (write ? S_IWUSR : 0))};
    return AccessGrant{creds.gid, mode_t(bits | S_IRGRP | (write ? S_IWGRP : 0))};
}

DirOwnership lentDirOwnership(const VmmCredentials &creds, uid_t serviceUid, gid_t serviceGid, bool lent)
{
    return lent ? DirOwnership{creds.uid, creds.gid, kPrivateDirMode} : DirOwnership{serviceUid, serviceGid, kPrivateDirMode};
}

Core::Result prepareChVmmDir(const QString &path, const std::optional<VmmCredentials> &creds)
{
    if (!QFileInfo(path).isDir() && !QDir().mkpath(path))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create directory %1").arg(path));
    if (!creds)
        return Core::Paths::ensurePrivateDir(path);
    return applyOwnership(path, DirOwnership{creds->uid, creds->gid, kChVmmDirMode});
}

Core::Result prepareChStateDir(const QString &path, const VmmCredentials &creds)
{
    if (auto ok = Core::Paths::ensurePrivateDir(path); !ok)
        return ok;
    return applyOwnership(path, DirOwnership{::geteuid(), creds.gid, kChStateDirMode});
}

Core::Result lendDirectory(const QString &path, const VmmCredentials &creds, bool lent)
{
    return applyOwnership(path, lentDirOwnership(creds, ::geteuid(), ::getegid(), lent));
}

Core::Expected<ChVmConfig::PassedFds> openChFds(const VmSpec &spec, const VmmCredentials &creds, HeldFds &held)
{
    ChVmConfig::PassedFds fds;
    const QString vmmDir = ChVmConfig::vmmDir(spec);
    if (auto ok = prepareChVmmDir(vmmDir, creds); !ok)
        return ok.error();
    auto dir = openHeld(vmmDir, O_RDONLY | O_DIRECTORY, held);
    if (!dir)
        return dir.error();
    fds.vmmDir = *dir;
    if (!spec.stateDir.isEmpty()) {
        if (auto ok = prepareChStateDir(spec.stateDir, creds); !ok)
            return ok.error();
        auto state = openHeld(spec.stateDir, O_RDONLY | O_DIRECTORY, held);
        if (!state)
            return state.error();
        fds.stateDir = *state;
    }
    auto kernel = openReadableByOthers(QStringLiteral("kernel"), spec.kernelPath, creds, held);
    if (!kernel)
        return kernel.error();
    fds.kernel = *kernel;
    if (!spec.initramfsPath.isEmpty()) {
        auto initramfs = openReadableByOthers(QStringLiteral("initramfs"), spec.initramfsPath, creds, held);
        if (!initramfs)
            return initramfs.error();
        fds.initramfs = *initramfs;
    }
    for (const DiskSpec &d : spec.disks) {
        auto disk = openGranted(QStringLiteral("disk"), d.path, !d.readOnly, creds, held);
        if (!disk)
            return disk.error();
        fds.disks.append(*disk);
    }
    return fds;
}

Core::Result openChRestoreFds(const QString &snapshotDir, const VmmCredentials &creds, HeldFds &held, ChVmConfig::PassedFds &fds)
{
    const QDir dir(snapshotDir);
    auto state = openGranted(QStringLiteral("snapshot state"), dir.filePath(QStringLiteral("state.json")), false, creds, held);
    if (!state)
        return state.error();
    auto memory = openGranted(QStringLiteral("snapshot memory"), dir.filePath(QStringLiteral("memory-ranges")), false, creds, held);
    if (!memory)
        return memory.error();
    fds.restoreState = *state;
    fds.restoreMemory = *memory;
    return {};
}

} // namespace Vmm
