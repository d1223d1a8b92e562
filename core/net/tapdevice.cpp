#include "core/net/tapdevice.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

namespace Net {

namespace {

constexpr char kTunDevice[] = "/dev/net/tun";
constexpr qint64 kMaxFdInfoBytes = 4096; // a tun's fdinfo is a few lines

Core::Error tapError(const QString &name, const char *step, int error)
{
    Core::ErrorCode code = Core::ErrorCode::Io;
    if (error == EPERM || error == EACCES)
        code = Core::ErrorCode::PermissionDenied;
    else if (error == EBUSY || error == EEXIST || error == EINVAL)
        code = Core::ErrorCode::AlreadyExists; // TUNSETIFF on an existing non-tap interface or a tap in use
    return Core::Error(code, QStringLiteral("cannot create tap %1: %2: %3").arg(name, QLatin1String(step), QString::fromLocal8Bit(std::strerror(error))));
}

} // namespace

bool TapDevice::isValidName(const QString &name)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[A-Za-z0-9_.-]{1,%1}").arg(kMaxNameLength)));
    return re.match(name).hasMatch();
}

Core::Expected<TapDevice> TapDevice::create(const QString &name)
{
    if (!isValidName(name))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("'%1' is not a tap name (1-%2 of A-Z a-z 0-9 _ . -)").arg(name).arg(kMaxNameLength));
    TapDevice tap;
    tap.m_name = name;
    tap.m_fd = ::open(kTunDevice, O_RDWR | O_CLOEXEC);
    if (tap.m_fd < 0)
        return tapError(name, "open /dev/net/tun", errno);
    struct ifreq ifr { };
    const QByteArray n = name.toLatin1();
    std::memcpy(ifr.ifr_name, n.constData(), size_t(n.size()));
    // IFF_TUN_EXCL: never attach to an existing (persistent) tap of that name.
    ifr.ifr_flags = short(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
    if (::ioctl(tap.m_fd, TUNSETIFF, &ifr) != 0)
        return tapError(name, "TUNSETIFF", errno);
    // Non-persistent is the default; say so, should the kernel's ever change.
    if (::ioctl(tap.m_fd, TUNSETPERSIST, 0) != 0)
        return tapError(name, "TUNSETPERSIST 0", errno);
    return tap;
}

namespace {

// The descriptor number under which pid holds tap `name`, or -1.
int tapFdOf(qint64 pid, const QByteArray &name)
{
    const QString dir = QStringLiteral("/proc/%1/fdinfo").arg(pid);
    const QByteArray line = "iff:\t" + name + '\n';
    for (const QString &entry : QDir(dir).entryList(QDir::Files)) {
        QFile info(dir + QLatin1Char('/') + entry);
        if (info.open(QIODevice::ReadOnly) && info.read(kMaxFdInfoBytes).contains(line))
            return entry.toInt();
    }
    return -1;
}

} // namespace

Core::Expected<TapDevice> TapDevice::fromProcess(qint64 pid, const QString &name)
{
    if (!isValidName(name) || pid <= 0)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("no tap '%1' of process %2 to look for").arg(name).arg(pid));
    const auto fail = [&](Core::ErrorCode code, const QString &why) {
        return Core::Error(code, QStringLiteral("cannot take tap %1 from process %2: %3").arg(name).arg(pid).arg(why));
    };
    const int pidfd = int(::syscall(SYS_pidfd_open, pid_t(pid), 0));
    if (pidfd < 0)
        return fail(errno == ESRCH ? Core::ErrorCode::NotFound : Core::ErrorCode::Io, QString::fromLocal8Bit(std::strerror(errno)));
    const QByteArray n = name.toLatin1();
    const int theirs = tapFdOf(pid, n);
    TapDevice tap;
    tap.m_name = name;
    if (theirs >= 0)
        tap.m_fd = int(::syscall(SYS_pidfd_getfd, pidfd, theirs, 0)); // close-on-exec, as ours are
    const int error = errno;
    ::close(pidfd);
    if (theirs < 0)
        return fail(Core::ErrorCode::NotFound, QStringLiteral("it holds no descriptor of it"));
    if (tap.m_fd < 0)
        return fail(error == EPERM ? Core::ErrorCode::PermissionDenied : Core::ErrorCode::Io, QString::fromLocal8Bit(std::strerror(error)));
    struct ifreq ifr { };
    if (::ioctl(tap.m_fd, TUNGETIFF, &ifr) != 0 || QByteArray(ifr.ifr_name) != n)
        return fail(Core::ErrorCode::NotFound, QStringLiteral("its descriptor is not that tap any more"));
    return tap;
}

Core::Expected<TapDevice> TapDevice::fromDescriptor(int fd, const QString &name)
{
    TapDevice tap;
    tap.m_fd = fd;
    tap.m_name = name;
    struct ifreq ifr { };
    const short flags = short(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    if (fd < 0 || !isValidName(name) || ::ioctl(fd, TUNGETIFF, &ifr) != 0 || QByteArray(ifr.ifr_name) != name.toLatin1() || (ifr.ifr_flags & flags) != flags)
        return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("the descriptor received for tap %1 is not that tap").arg(name));
    return tap;
}

TapDevice::TapDevice(TapDevice &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
    , m_name(std::move(other.m_name))
{
}

TapDevice &TapDevice::operator=(TapDevice &&other) noexcept
{
    if (this != &other) {
        reset();
        m_fd = std::exchange(other.m_fd, -1);
        m_name = std::move(other.m_name);
    }
    return *this;
}

TapDevice::~TapDevice()
{
    reset();
}

void TapDevice::reset()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

int TapDevice::release()
{
    return std::exchange(m_fd, -1);
}

} // namespace Net
