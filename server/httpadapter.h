#pragma once
// The HTTP face of the Api: the one place that knows Qt HttpServer. It
// serves the Api's routes with request authentication (RequestAuth, decided
// when a request's head arrives), the body size caps, the connection walls
// (ConnectionGuard), the answers as HttpMapping makes them, the request metrics
// (every route alike), uploads through the raw upload path, and the
// WebSocket upgrades it hands to ExecSocket and VncSocket.

#include "core/expected.h"
#include "server/connectionguard.h"
#include "server/httpendpoints.h"

#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <QStringList>

#include <memory>

namespace Server {

class HttpAdapter final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpAdapter)
public:
    struct Options {
        // Every route but health wants "Authorization: Bearer <token>".
        QByteArray token;
        // Body caps. Qt 6.4 buffers a request body whole before a route
        // sees it, so uploads are capped too; a declared Content-Length over
        // the cap is refused before the body is read.
        qint64 maxJsonBody = 1 << 20;
        qint64 maxFileBody = qint64(512) << 20;
        // Connection cap, head and idle timeouts, unread-answer high-water
        // mark (ConnectionGuard's defaults; tests make them short).
        ConnectionGuard::Limits connections;
    };

    // A request without a valid credential may carry this much body at most
    // (a declared one; a chunked one is refused with 401 at its head).
    static constexpr qint64 kMaxUnauthenticatedBody = 4 * 1024;

    // What endpoints refer to (the Api, see Api::httpEndpoints()) must
    // outlive the adapter.
    HttpAdapter(HttpEndpoints endpoints, Options options, QObject *parent = nullptr);
    ~HttpAdapter() override;

    // Start listening; returns the port (the chosen one when port is 0).
    Core::Expected<quint16> listen(const QHostAddress &address, quint16 port);
    quint16 port() const;

    // "METHOD /path/{param}" for every registered route, in order (the
    // WebSocket one as GET). tst_openapi compares it with the OpenAPI document.
    QStringList routes() const;

    // The connections open (those handed to a WebSocket are no longer counted).
    int connectionCount() const;

private:
    class Private;
    std::unique_ptr<Private> d;
};

} // namespace Server
