#include "core/net/helperchannel.h"

#include <QJsonDocument>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Net {
namespace {

Core::Error ioError(const char *what)
{
    return Core::Error(Core::ErrorCode::Io,
                       QStringLiteral("network helper channel: %1: %2").arg(QLatin1String(what), QString::fromLocal8Bit(std::strerror(errno))));
}

} // namespace

Core::Expected<std::pair<HelperChannel, HelperChannel>> HelperChannel::pair()
{
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        return ioError("socketpair");
    for (int fd : fds) {
        const int size = kMaxMessageBytes * 2;
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    return std::make_pair(HelperChannel(fds[0]), HelperChannel(fds[1]));
}

HelperChannel::HelperChannel(int fd)
    : m_fd(fd)
{
}

HelperChannel::HelperChannel(HelperChannel &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
{
}

HelperChannel &HelperChannel::operator=(HelperChannel &&other) noexcept
{
    if (this != &other) {
        close();
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

HelperChannel::~HelperChannel()
{
    close();
}

void HelperChannel::close()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

Core::Result HelperChannel::send(const QJsonObject &message, int fd) const
{
    const QByteArray data = QJsonDocument(message).toJson(QJsonDocument::Compact);
    if (data.size() > kMaxMessageBytes)
        return Core::Error(Core::ErrorCode::TooLarge, QStringLiteral("network helper message of %1 bytes (at most %2)").arg(data.size()).arg(kMaxMessageBytes));
    iovec iov{const_cast<char *>(data.constData()), size_t(data.size())};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do
        n = ::sendmsg(m_fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EPIPE || errno == ECONNRESET ? Core::Error(Core::ErrorCode::Io, QStringLiteral("network helper channel: closed")) : ioError("send");
    return {};
}

Core::Expected<HelperChannel::Message> HelperChannel::receive(int timeoutMs) const
{
    pollfd p{m_fd, POLLIN, 0};
    int ready;
    do
        ready = ::poll(&p, 1, timeoutMs);
    while (ready < 0 && errno == EINTR);
    if (ready < 0)
        return ioError("poll");
    if (ready == 0)
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("network helper: no answer within %1 ms").arg(timeoutMs));
    QByteArray data(kMaxMessageBytes, Qt::Uninitialized);
    iovec iov{data.data(), size_t(data.size())};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do
        n = ::recvmsg(m_fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ioError("receive");
    Message m;
    // Every descriptor received is ours: keep the first, close the rest.
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (m.fd < 0)
                m.fd = fd;
            else
                ::close(fd);
        }
    }
    auto close = [&m] {
        if (m.fd >= 0)
            ::close(m.fd);
    };
    if (n == 0) {
        close(); // a descriptor with an empty message
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("network helper channel: closed"));
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        close();
        return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper: a message was truncated"));
    }
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(data.left(n), &error);
    if (!doc.isObject()) {
        close();
        return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper: a message is not a JSON object"));
    }
    m.json = doc.object();
    return m;
}

} // namespace Net
