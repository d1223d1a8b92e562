#pragma once
// The walls around the service's TCP connections, whoever reads them: how
// many may be open, how long a request head may take to arrive, how long a
// keep-alive connection may sit idle, how much of its answers a client may
// leave unread before its requests stop being read, and accepting again after
// accept() failed (EMFILE). It never reads or writes a socket's data; the
// HTTP side tells it where a connection is (head started, head complete,
// busy answering, an answer written) and does the pausing it asks for.

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QPointer>

#include <functional>

class QTcpServer;
class QTcpSocket;
class QTimer;

namespace Server {

class ConnectionGuard final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectionGuard)
public:
    static constexpr int kMaxConnections = 512;
    static constexpr int kHeadTimeoutMs = 10000; // from a head's first byte to its blank line
    static constexpr int kIdleTimeoutMs = 60000; // a connection with nothing to do
    static constexpr qint64 kWriteHighWater = 1 << 20; // unread answers before its requests stop being read
    static constexpr int kAcceptRetryMs = 500; // after accept() failed (EMFILE, ENFILE, ENOBUFS)
    // Of the process's file descriptors (RLIMIT_NOFILE), the share
    // connections may take: the rest is the VMs'.
    static constexpr int kFdShareDivisor = 2;

    struct Limits {
        int maxConnections = kMaxConnections;
        int headTimeoutMs = kHeadTimeoutMs;
        int idleTimeoutMs = kIdleTimeoutMs;
        qint64 writeHighWater = kWriteHighWater;
    };

    // busy(socket): a request of that connection is being answered (or an
    // upload streams): it is neither idle nor to be evicted.
    ConnectionGuard(Limits limits, std::function<bool(QTcpSocket *)> busy, QObject *parent = nullptr);
    ~ConnectionGuard() override;

    // Accept errors pause the server's accepting (Qt does so on EMFILE);
    // accepting resumes after kAcceptRetryMs.
    void watch(QTcpServer *server);

    // A new connection. At the cap the oldest one not busy is closed to make
    // room; false when all are busy (the caller closes the new one).
    bool admit(QTcpSocket *socket);
    // No longer policed (handed to a WebSocket); destroyed sockets are
    // forgotten by themselves.
    void release(QTcpSocket *socket);

    // The first bytes of a request head arrived: the head timeout runs (not
    // restarted by later bytes, so one byte every few seconds gets nowhere).
    void headStarted(QTcpSocket *socket);
    // The head is complete.
    void headComplete(QTcpSocket *socket);
    // An answer was written to the socket: activity, like a byte read or
    // written, although its bytes leave (and bytesWritten is emitted) only
    // once the event loop gets to the socket. A request answered after the
    // idle timeout (one whose deadline is as long) is then not swept in
    // between, with its answer lost and the client sending it again.
    void answered(QTcpSocket *socket);

    // Whether the connection's unread answers are over the high-water mark:
    // its requests must not be read until resume(socket) runs, which it does
    // once the answers drained below half the mark.
    bool holdReading(QTcpSocket *socket, std::function<void()> resume);

    int count() const { return int(m_connections.size()); }
    int maxConnections() const { return m_maxConnections; }
    const Limits &limits() const { return m_limits; }

    // min(limit, RLIMIT_NOFILE / kFdShareDivisor).
    static int fdBoundCap(int limit);

private:
    struct Entry {
        quint64 order = 0; // admission order: the oldest is evicted first
        QElapsedTimer activity; // last byte read or written, or answer given
        QElapsedTimer head; // valid while a head is arriving
        std::function<void()> resume; // set while reading is held
    };

    bool evictOne();
    // Every connection past its head or idle timeout is closed.
    void sweep();
    bool expired(QTcpSocket *socket, const Entry &e) const;
    void onBytesWritten(QTcpSocket *socket);
    void drop(QTcpSocket *socket);

    Limits m_limits;
    int m_maxConnections;
    std::function<bool(QTcpSocket *)> m_busy;
    QHash<QTcpSocket *, Entry> m_connections;
    quint64 m_admitted = 0;
    QTimer *m_sweep;
};

} // namespace Server
