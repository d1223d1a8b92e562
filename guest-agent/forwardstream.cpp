#include "forwardstream.h"

#include "session.h"
#include "util.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

constexpr std::uint64_t kConnectTimeoutMs = 10000;

ErrorCode connectErrorCode(int err)
{
    switch (err) {
    case ECONNREFUSED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ECONNRESET: return ErrorCode::ConnectionRefused;
    default: return errorCodeFromErrno(err);
    }
}

} // namespace

ForwardStream::ForwardStream(Session &session, std::uint32_t id)
    : Stream(session, id)
{
}

ForwardStream::~ForwardStream()
{
    release();
}

void ForwardStream::fail(ErrorCode code, const std::string &message)
{
    release(); // clean up before the host hears about it
    m_session.sendError(m_id, code, message);
    m_session.finishStream(m_id);
}

void ForwardStream::start(const Protocol::StreamOpen &request)
{
    std::string host = request.host;
    m_target = host + ":" + std::to_string(request.port);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "localhost")
        host = "127.0.0.1";
    if (request.port == 0 || hasNul(host))
        return fail(ErrorCode::InvalidArgument, "invalid address " + m_target);

    // Numeric addresses only: a static binary has no NSS to resolve names with.
    sockaddr_storage addr{};
    socklen_t addrLen = 0;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&addr);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&addr);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(request.port);
        addrLen = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(request.port);
        addrLen = sizeof(sockaddr_in6);
    } else {
        return fail(ErrorCode::InvalidArgument, "cannot resolve " + request.host + ": only numeric addresses and localhost are supported");
    }

    const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("socket", {}, err));
    }
    m_socket.reset(fd);
    m_watch = WatchHandle(&m_session.loop(), m_session.loop().addWatch(fd, 0, [this](short revents) { onIo(revents); }));

    int rc = 0;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), addrLen);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) {
        connected();
        return;
    }
    if (errno != EINPROGRESS) {
        const int err = errno;
        return fail(connectErrorCode(err), errnoMessage("connect", m_target, err));
    }
    m_connecting = true;
    m_connectTimer.start(m_session.loop(), kConnectTimeoutMs, [this] { fail(ErrorCode::ConnectionRefused, errnoMessage("connect", m_target, ETIMEDOUT)); });
    updateInterest();
}

void ForwardStream::connected()
{
    m_connecting = false;
    m_connected = true;
    m_connectTimer.stop();
    const int one = 1;
    ::setsockopt(m_socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    m_session.send(MsgType::StreamOpened, m_id, {});
    if (m_released)
        return;
    writeSocket(); // data the host sent before the connection was up
}

void ForwardStream::updateInterest()
{
    if (m_released || !m_socket.valid())
        return;
    short events = 0;
    if (m_connecting) {
        events = POLLOUT;
    } else if (m_connected) {
        if (!m_closeRequested && !m_session.congested() && hasCredit())
            events |= POLLIN;
        if (inboundBuffered() > 0)
            events |= POLLOUT;
    }
    m_watch.setEvents(events);
}

void ForwardStream::outputResumed()
{
    updateInterest();
}

void ForwardStream::onIo(short revents)
{
    if (m_connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(m_socket.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == 0 && (revents & (POLLERR | POLLHUP)))
            err = ECONNREFUSED;
        if (err != 0)
            return fail(connectErrorCode(err), errnoMessage("connect", m_target, err));
        connected();
        return;
    }
    if (revents & POLLOUT) {
        writeSocket();
        if (m_released)
            return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        readSocket();
}

void ForwardStream::readSocket()
{
    if (!m_connected || m_closeRequested)
        return;
    static char buf[Protocol::kDataChunk];
    const std::size_t max = sendable(std::min(sizeof buf, m_session.chunkSize()));
    if (max == 0) {
        updateInterest(); // no credit: wait for StreamCredit
        return;
    }
    const ssize_t n = ::read(m_socket.get(), buf, max);
    if (n > 0) {
        spendCredit(static_cast<std::size_t>(n));
        m_session.send(MsgType::StreamData, m_id, std::string_view(buf, static_cast<std::size_t>(n)));
        updateInterest();
        return;
    }
    if (n == 0) {
        closeFromGuest();
        return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return;
    if (errno == ECONNRESET) {
        closeFromGuest();
        return;
    }
    const int err = errno;
    fail(errorCodeFromErrno(err), errnoMessage("read", m_target, err));
}

void ForwardStream::writeSocket()
{
    while (m_connected && inboundBuffered() > 0) {
        const ssize_t n = ::send(m_socket.get(), m_outBuffer.data() + m_outOffset, inboundBuffered(), MSG_NOSIGNAL);
        if (n > 0) {
            m_outOffset += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        const int err = n < 0 ? errno : EPIPE;
        if (err == EPIPE || err == ECONNRESET) {
            closeFromGuest();
            return;
        }
        return fail(errorCodeFromErrno(err), errnoMessage("write", m_target, err));
    }
    if (inboundBuffered() == 0) {
        m_outBuffer.clear();
        m_outOffset = 0;
        if (m_closeRequested && m_connected) {
            m_session.finishStream(m_id); // host closed and everything is delivered
            return;
        }
    } else if (m_outOffset > (1u << 20)) {
        m_outBuffer.erase(0, m_outOffset);
        m_outOffset = 0;
    }
    updateInterest();
    m_session.inboundChanged();
}

void ForwardStream::closeFromGuest()
{
    release();
    m_session.send(MsgType::StreamClose, m_id, {});
    m_session.finishStream(m_id);
}

void ForwardStream::handleFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::StreamData:
        if (m_closeRequested)
            return;
        m_outBuffer.append(payload.data(), payload.size());
        if (m_connected)
            writeSocket();
        else
            m_session.inboundChanged();
        return;
    case MsgType::StreamClose:
        // Half-close maps to a full close once the pending bytes are out.
        m_closeRequested = true;
        if (!m_connected || inboundBuffered() == 0) {
            m_session.finishStream(m_id);
            return;
        }
        updateInterest();
        return;
    default: fail(ErrorCode::Protocol, "unexpected message type " + std::to_string(static_cast<int>(type)) + " on a forward stream"); return;
    }
}

void ForwardStream::cancel()
{
    closeFromGuest();
}

void ForwardStream::release()
{
    if (m_released)
        return;
    m_released = true;
    m_connectTimer.stop();
    m_watch.reset();
    m_socket.reset();
    m_outBuffer.clear();
    m_outOffset = 0;
}

} // namespace GuestAgent
