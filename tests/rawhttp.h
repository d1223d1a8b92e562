#pragma once
// Raw HTTP for the suites that write requests by hand (malformed heads,
// WebSocket upgrades, pipelining): bytes on a fresh connection, the answer's
// bytes back, and a header of an answer. The event loop runs while it
// waits, so the service may live in the same process.

#include <QByteArray>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QHostAddress>
#include <QTcpSocket>

namespace RawHttp {

inline constexpr int kConnectTimeoutMs = 5000;

// Writes bytes on a new connection to 127.0.0.1:port and reads until the
// answer contains `until` (when not empty), the peer closes or timeoutMs
// passed. Empty when the connection failed.
inline QByteArray exchange(quint16 port, const QByteArray &bytes, const QByteArray &until = {}, int timeoutMs = 5000)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(kConnectTimeoutMs))
        return {};
    socket.write(bytes);
    QByteArray in;
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired() && socket.state() == QAbstractSocket::ConnectedState && (until.isEmpty() || !in.contains(until))) {
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
        in += socket.readAll();
    }
    return in + socket.readAll();
}

// The value of the header name (any case) in an answer's head; empty if
// it has none.
inline QByteArray headerOf(const QByteArray &answer, const QByteArray &name)
{
    for (const QByteArray &line : answer.left(answer.indexOf("\r\n\r\n")).split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

} // namespace RawHttp
