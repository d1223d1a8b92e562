#pragma once
// Where Qt HttpServer's API moved between Qt 6.4 (Debian 12, Ubuntu 24.04)
// and Qt 6.8 (Debian 13): the one place with version checks. The adapter
// (httpadapter.cpp) sees the same server on every Qt: each whole request
// with the socket it came on, WebSocket upgrades included, and a hook for
// the requests it refused. It writes every answer to the socket itself,
// never through Qt's responder or response, whose API moved (6.5 hands
// handlers a QHttpServerResponder instead of the socket; 6.8 drops
// QHttpServerResponse::addHeader and asks upgrade verifiers instead of
// handleRequest()).

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QtGlobal>

#include <functional>
#include <utility>

class QHttpServerRequest;
class QHttpServerResponder;
class QTcpSocket;

namespace Server::HttpCompat {

using Headers = QList<std::pair<QByteArray, QByteArray>>;

// A request's headers as they came, in order (6.8 keeps them as QHttpHeaders).
Headers requestHeaders(const QHttpServerRequest &request);

class RequestServer final : public QAbstractHttpServer {
public:
    struct Hooks {
        // A request read whole (an upgrade too) on its socket: true when
        // taken (an upgrade then goes to the WebSocket side), false to
        // refuse it: refused() answers, and an upgrade's connection closes.
        std::function<bool(const QHttpServerRequest &, QTcpSocket *)> request;
        std::function<void(const QHttpServerRequest &, QTcpSocket *)> refused;
        // The connection with this peer (Qt 6.5 and later name the peer of
        // a request, not its socket); nullptr when there is none.
        std::function<QTcpSocket *(const QHostAddress &peer, quint16 peerPort)> socketOf;
    };

    explicit RequestServer(Hooks hooks);

    // Cuts the server's reader off the socket, and every slot on its
    // readyRead whose context is this server, until the socket is handed to
    // the server again as a new pending connection.
    void stopReading(QTcpSocket *socket);

protected:
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
    bool handleRequest(const QHttpServerRequest &request, QHttpServerResponder &responder) override;
    void missingHandler(const QHttpServerRequest &request, QHttpServerResponder &responder) override;
#else
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;
#endif

private:
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
    QTcpSocket *socketOf(const QHttpServerRequest &request) const;
#endif

    Hooks m_hooks;
};

} // namespace Server::HttpCompat
