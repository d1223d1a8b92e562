#include "server/connectionguard.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <sys/resource.h>

namespace Server {
namespace {

// How often timeouts are looked at: a quarter of the shorter one, within
// these bounds (a timeout fires up to one interval late).
constexpr int kMinSweepMs = 50;
constexpr int kMaxSweepMs = 1000;

} // namespace

ConnectionGuard::ConnectionGuard(Limits limits, std::function<bool(QTcpSocket *)> busy, QObject *parent)
    : QObject(parent)
    , m_limits(limits)
    , m_maxConnections(fdBoundCap(limits.maxConnections))
    , m_busy(std::move(busy))
    , m_sweep(new QTimer(this))
{
    m_sweep->setInterval(qBound(kMinSweepMs, qMin(m_limits.headTimeoutMs, m_limits.idleTimeoutMs) / 4, kMaxSweepMs));
    connect(m_sweep, &QTimer::timeout, this, &ConnectionGuard::sweep);
    m_sweep->start();
}

ConnectionGuard::~ConnectionGuard()
{
    for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it)
        it.key()->disconnect(this);
}

int ConnectionGuard::fdBoundCap(int limit)
{
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return limit;
    return int(qMin<rlim_t>(rlim_t(limit), qMax<rlim_t>(1, rl.rlim_cur / kFdShareDivisor)));
}

void ConnectionGuard::watch(QTcpServer *server)
{
    // Qt pauses accepting on a non-temporary accept() error such as EMFILE
    // and nothing else would resume it: the API would stay deaf for good.
    connect(server, &QTcpServer::acceptError, server,
            [server](QAbstractSocket::SocketError) { QTimer::singleShot(kAcceptRetryMs, server, [server]() { server->resumeAccepting(); }); });
}

bool ConnectionGuard::admit(QTcpSocket *socket)
{
    if (count() >= m_maxConnections && !evictOne())
        return false;
    Entry &e = m_connections[socket];
    e.order = ++m_admitted;
    e.activity.start();
    connect(socket, &QIODevice::readyRead, this, [this, socket]() {
        if (auto it = m_connections.find(socket); it != m_connections.end())
            it->activity.restart();
    });
    connect(socket, &QIODevice::bytesWritten, this, [this, socket]() { onBytesWritten(socket); });
    connect(socket, &QObject::destroyed, this, [this, socket]() { m_connections.remove(socket); });
    return true;
}

void ConnectionGuard::release(QTcpSocket *socket)
{
    if (m_connections.remove(socket))
        socket->disconnect(this);
}

bool ConnectionGuard::evictOne()
{
    QTcpSocket *oldest = nullptr;
    quint64 order = 0;
    for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
        if ((!oldest || it->order < order) && !m_busy(it.key())) {
            oldest = it.key();
            order = it->order;
        }
    }
    if (oldest)
        drop(oldest);
    return oldest != nullptr;
}

void ConnectionGuard::headStarted(QTcpSocket *socket)
{
    if (auto it = m_connections.find(socket); it != m_connections.end() && !it->head.isValid())
        it->head.start();
}

void ConnectionGuard::headComplete(QTcpSocket *socket)
{
    if (auto it = m_connections.find(socket); it != m_connections.end())
        it->head.invalidate();
}

void ConnectionGuard::answered(QTcpSocket *socket)
{
    if (auto it = m_connections.find(socket); it != m_connections.end())
        it->activity.restart();
}

bool ConnectionGuard::holdReading(QTcpSocket *socket, std::function<void()> resume)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end() || socket->bytesToWrite() <= m_limits.writeHighWater)
        return false;
    it->resume = std::move(resume);
    return true;
}

void ConnectionGuard::onBytesWritten(QTcpSocket *socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    it->activity.restart();
    if (it->resume && socket->bytesToWrite() <= m_limits.writeHighWater / 2)
        std::exchange(it->resume, {})();
}

bool ConnectionGuard::expired(QTcpSocket *socket, const Entry &e) const
{
    if (e.head.isValid())
        return e.head.hasExpired(m_limits.headTimeoutMs);
    return e.activity.hasExpired(m_limits.idleTimeoutMs) && !m_busy(socket);
}

void ConnectionGuard::sweep()
{
    QList<QTcpSocket *> late;
    for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
        if (expired(it.key(), *it))
            late.append(it.key());
    }
    for (QTcpSocket *socket : late)
        drop(socket);
}

void ConnectionGuard::drop(QTcpSocket *socket)
{
    release(socket);
    // Whoever reads the socket deletes it once it is disconnected.
    socket->abort();
}

} // namespace Server
