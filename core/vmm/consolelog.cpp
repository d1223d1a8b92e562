#include "core/vmm/consolelog.h"

#include "core/log.h"

#include <QFile>
#include <QLocalSocket>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Vmm {

namespace {

QString errnoText()
{
    return QString::fromLocal8Bit(std::strerror(errno));
}

// The last maxBytes of one file (a link is not followed); empty when missing.
QByteArray fileTail(const QString &path, qint64 maxBytes)
{
    if (maxBytes <= 0)
        return {};
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return {};
    QFile f;
    QByteArray out;
    if (f.open(fd, QIODevice::ReadOnly, QFileDevice::AutoCloseHandle)) {
        if (f.size() > maxBytes)
            f.seek(f.size() - maxBytes);
        out = f.read(maxBytes);
    } else {
        ::close(fd);
    }
    return out;
}

} // namespace

ConsoleLog::ConsoleLog(QString logPath, QObject *parent)
    : QObject(parent)
    , m_logPath(std::move(logPath))
{
}

ConsoleLog::~ConsoleLog()
{
    close();
    if (m_fd >= 0)
        ::close(m_fd);
}

void ConsoleLog::attach(const QString &socketPath)
{
    close();
    m_socket = new QLocalSocket(this);
    m_socket->setReadBufferSize(kReadChunkBytes);
    connect(m_socket, &QLocalSocket::readyRead, this, &ConsoleLog::onReadyRead);
    connect(m_socket, &QLocalSocket::disconnected, this, &ConsoleLog::onReadyRead); // what is left
    connect(m_socket, &QLocalSocket::errorOccurred, this, [this, socketPath](QLocalSocket::LocalSocketError e) {
        if (e != QLocalSocket::PeerClosedError)
            Core::Log::vmm()->warn("console {}: {}", socketPath.toStdString(), m_socket->errorString().toStdString());
    });
    m_socket->connectToServer(socketPath, QIODevice::ReadOnly);
}

bool ConsoleLog::isAttached() const
{
    return m_socket && m_socket->state() == QLocalSocket::ConnectedState;
}

void ConsoleLog::close()
{
    if (!m_socket)
        return;
    onReadyRead();
    m_socket->disconnect(this);
    m_socket->abort();
    m_socket->deleteLater();
    m_socket = nullptr;
}

void ConsoleLog::onReadyRead()
{
    if (!m_socket)
        return;
    // Bounded: the read buffer holds at most kReadChunkBytes; each pass
    // writes what it holds, and the socket refills as the guest writes.
    while (m_socket->bytesAvailable() > 0) {
        if (auto ok = append(m_socket->read(kReadChunkBytes)); !ok && !m_reportedError) {
            m_reportedError = true; // once per log: the guest must not flood ours either
            Core::Log::vmm()->warn("console log {}: {}", m_logPath.toStdString(), ok.error().message.toStdString());
        }
    }
}

Core::Result ConsoleLog::openLog()
{
    m_fd = ::open(QFile::encodeName(m_logPath).constData(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (m_fd < 0)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot open %1: %2").arg(m_logPath, errnoText()));
    struct stat st { };
    if (::fstat(m_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(m_fd);
        m_fd = -1;
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("%1 is not a regular file").arg(m_logPath));
    }
    m_size = st.st_size;
    return {};
}

Core::Result ConsoleLog::rotate()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    const QByteArray from = QFile::encodeName(m_logPath);
    const QByteArray to = QFile::encodeName(m_logPath + QLatin1String(kRotatedSuffix));
    // rename() replaces a link at the target rather than following it.
    if (::rename(from.constData(), to.constData()) != 0 && errno != ENOENT)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot rotate %1: %2").arg(m_logPath, errnoText()));
    return openLog();
}

Core::Result ConsoleLog::append(QByteArray bytes)
{
    if (m_fd < 0)
        if (auto ok = openLog(); !ok)
            return ok;
    qsizetype done = 0;
    while (done < bytes.size()) {
        if (m_size >= kMaxFileBytes)
            if (auto ok = rotate(); !ok)
                return ok;
        const qint64 room = kMaxFileBytes - m_size;
        const qint64 n = qMin<qint64>(room, bytes.size() - done);
        const ssize_t written = ::write(m_fd, bytes.constData() + done, static_cast<size_t>(n));
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(m_logPath, errnoText()));
        }
        done += written;
        m_size += written;
    }
    return {};
}

QByteArray ConsoleLog::tail(const QString &logPath, qint64 maxBytes)
{
    if (maxBytes < 0 || maxBytes > 2 * kMaxFileBytes)
        maxBytes = 2 * kMaxFileBytes; // all of it
    const QByteArray current = fileTail(logPath, maxBytes);
    if (current.size() >= maxBytes)
        return current;
    return fileTail(logPath + QLatin1String(kRotatedSuffix), maxBytes - current.size()) + current;
}

void ConsoleLog::remove(const QString &logPath)
{
    QFile::remove(logPath);
    QFile::remove(logPath + QLatin1String(kRotatedSuffix));
}

} // namespace Vmm
