#include "core/vmm/vmmfiles.h"

#include <QDir>
#include <QFile>
#include <QtEndian>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Vmm {

namespace {

// qcow2 header fields (docs/interop/qcow2.txt in QEMU).
constexpr quint32 kQcow2Magic = 0x514649fb; // "QFI\xfb"
constexpr int kVersionOffset = 4;
constexpr int kBackingOffsetOffset = 8;
constexpr int kBackingSizeOffset = 16;
constexpr int kHeaderLengthOffset = 100;
constexpr int kVersion2HeaderLength = 72;
constexpr quint32 kBackingFormatExtension = 0xe2792aca;
constexpr int kMaxBackingName = 1023; // QEMU's own limit
// What openQemuFds reads of an overlay: its first cluster at the smallest
// cluster size holds the header and the backing name.
constexpr int kQcow2HeadBytes = 64 * 1024;

Core::Error corrupt(const QString &why)
{
    return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("not a usable qcow2 header: %1").arg(why));
}

template<typename T>
std::optional<T> readBe(const QByteArray &b, qint64 offset)
{
    if (offset < 0 || offset + qint64(sizeof(T)) > b.size())
        return std::nullopt;
    return qFromBigEndian<T>(b.constData() + offset);
}

// The backing format from the header extensions, or raw.
QString backingFormat(const QByteArray &head, quint32 version)
{
    qint64 at = version >= 3 ? readBe<quint32>(head, kHeaderLengthOffset).value_or(kVersion2HeaderLength) : kVersion2HeaderLength;
    while (true) {
        const auto type = readBe<quint32>(head, at);
        const auto length = readBe<quint32>(head, at + 4);
        if (!type || !length || *type == 0 || at + 8 + *length > head.size())
            return QStringLiteral("raw");
        if (*type == kBackingFormatExtension)
            return QString::fromLatin1(head.mid(at + 8, *length));
        at += 8 + ((*length + 7) & ~quint32(7));
    }
}

Core::Error openError(const QString &what, const QString &path, int err)
{
    return Core::Error(err == ENOENT ? Core::ErrorCode::NotFound : Core::ErrorCode::Io,
                       QStringLiteral("cannot open %1 %2: %3").arg(what, path, QString::fromLocal8Bit(std::strerror(err))));
}

Core::Expected<int> openFile(const QString &what, const QString &path, int flags, HeldFds &held)
{
    const int fd = ::open(QFile::encodeName(path).constData(), flags | O_CLOEXEC);
    if (fd < 0)
        return openError(what, path, errno);
    return held.keep(fd);
}

// The kernel and initramfs are read through /proc/self/fd/N, which checks
// the file's permissions against the VMM's user.
Core::Expected<int> openReadableByVmm(const QString &what, const QString &path, const VmmCredentials &creds, HeldFds &held)
{
    auto fd = openFile(what, path, O_RDONLY, held);
    if (!fd)
        return fd;
    struct stat st { };
    if (::fstat(*fd, &st) != 0 || !mayRead(creds, st.st_uid, st.st_gid, st.st_mode))
        return Core::Error(Core::ErrorCode::PermissionDenied,
                           QStringLiteral("the VMM runs as %1, which cannot read the %2 %3 (mode %4): it must be readable by others")
                               .arg(creds.user, what, path, QString::number(st.st_mode & 07777, 8)));
    return fd;
}

Core::Expected<QemuCommandLine::PassedFds::Disk> openDisk(const DiskSpec &d, HeldFds &held)
{
    QemuCommandLine::PassedFds::Disk disk;
    auto file = openFile(QStringLiteral("disk"), d.path, d.readOnly ? O_RDONLY : O_RDWR, held);
    if (!file)
        return file.error();
    disk.file = *file;
    if (d.format != QLatin1String("qcow2"))
        return disk;
    QByteArray head(kQcow2HeadBytes, Qt::Uninitialized);
    const ssize_t n = ::pread(disk.file, head.data(), size_t(head.size()), 0);
    head.truncate(qMax<ssize_t>(0, n));
    auto backing = parseQcow2Backing(head, QFileInfo(d.path).absolutePath());
    if (!backing)
        return Core::Error(backing.error().code, QStringLiteral("%1: %2").arg(d.path, backing.error().message));
    if (!*backing)
        return disk;
    if ((*backing)->format != QLatin1String("raw"))
        return Core::Error(
            Core::ErrorCode::Unsupported,
            QStringLiteral("%1 is over a %2 image; only a raw base can be passed to a VMM that runs as another user").arg(d.path, (*backing)->format));
    auto base = openFile(QStringLiteral("base image"), (*backing)->path, O_RDONLY, held);
    if (!base)
        return base.error();
    disk.backing = *base;
    disk.backingFormat = (*backing)->format;
    return disk;
}

} // namespace

void HeldFds::closeAll()
{
    for (int fd : std::as_const(m_fds))
        ::close(fd);
    m_fds.clear();
}

Core::Expected<std::optional<Qcow2Backing>> parseQcow2Backing(const QByteArray &head, const QString &imageDir)
{
    const auto magic = readBe<quint32>(head, 0);
    const auto version = readBe<quint32>(head, kVersionOffset);
    const auto offset = readBe<quint64>(head, kBackingOffsetOffset);
    const auto size = readBe<quint32>(head, kBackingSizeOffset);
    if (!magic || *magic != kQcow2Magic || !version || !offset || !size)
        return corrupt(QStringLiteral("no qcow2 magic"));
    if (*offset == 0)
        return std::optional<Qcow2Backing>();
    if (*size == 0 || *size > kMaxBackingName || *offset > quint64(head.size()) || *offset + *size > quint64(head.size()))
        return corrupt(QStringLiteral("the backing file name (%1 bytes at %2) is not in the first %3 bytes").arg(*size).arg(*offset).arg(head.size()));
    const QString name = QFile::decodeName(head.mid(qint64(*offset), qint64(*size)));
    Qcow2Backing b;
    b.path = QDir::isAbsolutePath(name) ? name : QDir(imageDir).filePath(name);
    b.format = backingFormat(head, *version);
    return std::optional<Qcow2Backing>(b);
}

Core::Expected<int> listenOnUnixSocket(const QString &path, int backlog)
{
    const QByteArray native = QFile::encodeName(path);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (native.size() >= qsizetype(sizeof(addr.sun_path)))
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("socket path %1 is too long").arg(path));
    std::memcpy(addr.sun_path, native.constData(), size_t(native.size()));

    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a Unix socket: %1").arg(qt_error_string(errno)));
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0 || ::chmod(native.constData(), S_IRUSR | S_IWUSR) != 0
        || ::listen(fd, backlog) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(native.constData());
        return Core::Error(err == EACCES ? Core::ErrorCode::PermissionDenied : Core::ErrorCode::Io,
                           QStringLiteral("cannot listen on %1: %2").arg(path, qt_error_string(err)));
    }
    return fd;
}

Core::Expected<QemuCommandLine::PassedFds> openQemuFds(const VmSpec &spec, const VmmCredentials &creds, HeldFds &held)
{
    constexpr int kBacklog = 4;
    QemuCommandLine::PassedFds fds;
    auto kernel = openReadableByVmm(QStringLiteral("kernel"), spec.kernelPath, creds, held);
    if (!kernel)
        return kernel.error();
    fds.kernel = *kernel;
    if (!spec.initramfsPath.isEmpty()) {
        auto initramfs = openReadableByVmm(QStringLiteral("initramfs"), spec.initramfsPath, creds, held);
        if (!initramfs)
            return initramfs.error();
        fds.initramfs = *initramfs;
    }
    auto listen = [&](const QString &path, int &into) -> Core::Result {
        auto fd = listenOnUnixSocket(path, kBacklog);
        if (!fd)
            return fd.error();
        into = held.keep(*fd);
        return {};
    };
    if (auto ok = listen(QemuCommandLine::qmpSocketPath(spec), fds.qmpSocket); !ok)
        return ok.error();
    if (auto ok = listen(QemuCommandLine::agentSocketPath(spec), fds.agentSocket); !ok)
        return ok.error();
    if (!spec.consoleLogPath.isEmpty())
        if (auto ok = listen(QemuCommandLine::consoleSocketPath(spec), fds.consoleSocket); !ok)
            return ok.error();
    for (const QString &port : spec.extraSerialPorts) {
        int fd = -1;
        if (auto ok = listen(QemuCommandLine::extraPortSocketPath(spec, port), fd); !ok)
            return ok.error();
        fds.extraPortSockets.append(fd);
    }
    for (const DiskSpec &d : spec.disks) {
        auto disk = openDisk(d, held);
        if (!disk)
            return disk.error();
        fds.disks.append(*disk);
    }
    return fds;
}

} // namespace Vmm
