#include "core/net/filelock.h"

#include <QElapsedTimer>
#include <QFile>
#include <QThread>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <utility>

namespace Net {

Core::Expected<FileLock> FileLock::tryAcquire(const QString &path, int waitMs)
{
    FileLock lock;
    lock.m_path = path;
    lock.m_fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock.m_fd < 0)
        return Core::Error(errno == EACCES || errno == EPERM ? Core::ErrorCode::PermissionDenied : Core::ErrorCode::Io,
                           QStringLiteral("cannot open the lock file %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno))));
    QElapsedTimer waited;
    waited.start();
    while (::flock(lock.m_fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        if (error == EWOULDBLOCK && waited.elapsed() < waitMs) {
            QThread::msleep(kRetryIntervalMs);
            continue;
        }
        if (error == EWOULDBLOCK)
            return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("%1 is locked by another process").arg(path));
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot lock %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(error))));
    }
    return lock;
}

bool FileLock::isHeld(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    // A shared probe: it fails only against an exclusive holder, and two
    // probing processes never see each other as the owner.
    const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    return held;
}

FileLock::FileLock(FileLock &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
    , m_path(std::move(other.m_path))
{
}

FileLock &FileLock::operator=(FileLock &&other) noexcept
{
    if (this != &other) {
        unlock();
        m_fd = std::exchange(other.m_fd, -1);
        m_path = std::move(other.m_path);
    }
    return *this;
}

FileLock::~FileLock()
{
    unlock();
}

void FileLock::unlock()
{
    if (m_fd >= 0)
        ::close(m_fd); // closing the last descriptor drops the flock
    m_fd = -1;
}

} // namespace Net
