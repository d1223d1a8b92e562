#include "server/httpcompat.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QTcpSocket>
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
#include <QHttpServerWebSocketUpgradeResponse>
#endif

// As read in qthttpserver's sources:
// - 6.4 (qabstracthttpserver.cpp, handleReadyRead): handleRequest(request,
//   socket) for every request read whole; for an upgrade, true hands the
//   socket to the WebSocket side, false calls missingHandler() and closes.
// - 6.5 to 6.7: the same, with a QHttpServerResponder& for the socket.
// - 6.8 (qhttpserverhttp1protocolhandler.cpp): a protocol handler per
//   connection reads it (the socket's parent from then on); an upgrade goes
//   to the upgrade verifiers, never to handleRequest(): accept() hands the
//   socket over, passToNext() calls missingHandler() and closes.

namespace Server::HttpCompat {

Headers requestHeaders(const QHttpServerRequest &request)
{
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    return request.headers().toListOfPairs();
#else
    return request.headers();
#endif
}

RequestServer::RequestServer(Hooks hooks)
    : m_hooks(std::move(hooks))
{
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    addWebSocketUpgradeVerifier(this, [this](const QHttpServerRequest &request) {
        QTcpSocket *socket = socketOf(request);
        return socket && m_hooks.request(request, socket) ? QHttpServerWebSocketUpgradeResponse::accept() : QHttpServerWebSocketUpgradeResponse::passToNext();
    });
#endif
}

void RequestServer::stopReading(QTcpSocket *socket)
{
    QObject::disconnect(socket, &QIODevice::readyRead, this, nullptr);
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    // The connection's protocol handler, which took the socket as its child.
    if (QObject *reader = socket->parent(); reader && reader != this)
        QObject::disconnect(socket, &QIODevice::readyRead, reader, nullptr);
#endif
}

#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
QTcpSocket *RequestServer::socketOf(const QHttpServerRequest &request) const
{
    return m_hooks.socketOf(request.remoteAddress(), request.remotePort());
}

bool RequestServer::handleRequest(const QHttpServerRequest &request, QHttpServerResponder &)
{
    QTcpSocket *socket = socketOf(request);
    return socket && m_hooks.request(request, socket);
}

void RequestServer::missingHandler(const QHttpServerRequest &request, QHttpServerResponder &)
{
    if (QTcpSocket *socket = socketOf(request))
        m_hooks.refused(request, socket);
}
#else
bool RequestServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    return m_hooks.request(request, socket);
}

void RequestServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    m_hooks.refused(request, socket);
}
#endif

} // namespace Server::HttpCompat
