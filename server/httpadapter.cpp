#include "server/httpadapter.h"

#include "core/log.h"
#include "server/httpcompat.h"
#include "server/httpmapping.h"
#include "server/rawupload.h"
#include "server/requestauth.h"
#include "server/requestid.h"
#include "server/streamedbody.h"
#include "server/tokenregistry.h"

#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>
#include <QWebSocket>

#include <deque>
#include <memory>
#include <optional>

// Qt HttpServer, as read in qthttpserver v6.4.2 and v6.8 (src/httpserver/):
// - QHttpServer::route() with a QFuture<QHttpServerResponse> answers in
//   then(this, [&request, socket]...) (6.4's qhttpserver.cpp): the raw socket
//   and the request are captured, and a client that disconnects meanwhile has
//   its socket (and request) deleted (qabstracthttpserver.cpp,
//   handleNewConnections) before the answer is written.
// So this adapter subclasses QAbstractHttpServer (HttpCompat::RequestServer,
// which gives each request's socket on every Qt, see httpcompat.h), keeps a
// QPointer to the socket, and writes each answer's bytes to it itself
// (httpResponse()) only while it lives. Answers go out in request order per
// connection.
// - A request reaches handleRequest() only once its body is buffered whole
//   (QHttpServerRequestPrivate::parse). Sockets come through our own
//   QTcpServer, whose readyRead slot runs before the server's: it decides a
//   request's credential as soon as its head is complete, refuses a body it
//   may not send (declared or chunked) before the body is read, and caps a
//   chunked body at its route's limit.
// - The server reads a socket on every readyRead, through a read transaction
//   it opens for each request. To stop reading a connection (its answers are
//   unread) our slot and the server's are cut off it between two requests;
//   handing the socket to the server again as a new pending connection
//   resumes it (the server's handleNewConnections only connects slots).
// - WebSocket upgrades are handed over only when the request hook returns
//   true and newWebSocketConnection is connected; otherwise the refused hook
//   runs and the socket is closed (qabstracthttpserver.cpp, handleReadyRead).
//   On hand-over the server calls socket->disconnect(), which cuts our slots
//   on the socket too, so the connection is forgotten here first. Path and
//   token are checked in handleRequest(), and the handshake; refuse() answers
//   404, the credential's refusal (401, 403, 429) or 400 (the server's own
//   refusal of a bad handshake would lack a Content-Length).

namespace Server {
namespace {

constexpr qint64 kMaxHeaderBytes = 64 * 1024;
constexpr int kRejectLingerMs = 2000;
// ...or, without a credential, until this much more input was dropped (a
// client that sends its body without waiting still reads its answer; one
// that keeps sending is not read for long).
constexpr qint64 kRejectDrainBytes = 16 << 20;
// What a connection may read into memory beyond the request being read (its
// head and body as far as they may go): pipelined requests wait in the
// kernel, and then in the client.
constexpr qint64 kReadAhead = 256 * 1024;
// What a held connection (see ConnectionGuard::holdReading) may still read.
constexpr qint64 kHeldReadBuffer = 64 * 1024;
// A chunked body is cut at its cap plus chunk framing: this much, and a
// 1/kChunkFramingShare of the cap (8 bytes per 8 KiB chunk).
constexpr qint64 kChunkFramingSlack = 64 * 1024;
constexpr qint64 kChunkFramingShare = 1024;

using Headers = HttpCompat::Headers;

// The one request builder, for requests the HTTP server read and for
// uploads read here: names of headers in lower case.
Request makeRequest(QHash<QString, QString> params, QUrlQuery query, const Headers &headers)
{
    Request r;
    r.params = std::move(params);
    r.query = std::move(query);
    for (const auto &[name, value] : headers)
        r.headers.insert(name.toLower(), value);
    return r;
}

// The head of a request as screen() peeks at it: the request line's method
// and target, and the headers.
struct Head {
    QByteArray method;
    QByteArray target;
    Headers headers;
    qsizetype length = 0; // bytes, with the blank line

    // The last value of a header, if the head has it.
    std::optional<QByteArray> header(const char *lowerName) const
    {
        std::optional<QByteArray> found;
        for (const auto &[name, value] : headers) {
            if (name.toLower() == lowerName)
                found = value;
        }
        return found;
    }
    QByteArray path() const { return target.left(target.indexOf('?') < 0 ? target.size() : target.indexOf('?')); }
    QUrlQuery query() const
    {
        const qsizetype q = target.indexOf('?');
        return q < 0 ? QUrlQuery() : QUrlQuery(QString::fromUtf8(target.mid(q + 1)));
    }
};

// A head whose end is at `end` ("\r\n\r\n" or "\n\n"); nullopt for a request
// line the server's parser must answer.
std::optional<Head> parseHead(const QByteArray &head, qsizetype end)
{
    const QList<QByteArray> lines = head.left(end).split('\n');
    const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
    if (requestLine.size() < 2)
        return std::nullopt;
    Head h{requestLine.at(0), requestLine.at(1), {}, end + (head.at(end) == '\r' ? 4 : 2)};
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            h.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
    }
    return h;
}

QByteArray methodName(QHttpServerRequest::Method method)
{
    using M = QHttpServerRequest::Method;
    switch (method) {
    case M::Get: return QByteArrayLiteral("GET");
    case M::Put: return QByteArrayLiteral("PUT");
    case M::Delete: return QByteArrayLiteral("DELETE");
    case M::Post: return QByteArrayLiteral("POST");
    case M::Head: return QByteArrayLiteral("HEAD");
    case M::Options: return QByteArrayLiteral("OPTIONS");
    case M::Patch: return QByteArrayLiteral("PATCH");
    case M::Connect: return QByteArrayLiteral("CONNECT");
    case M::Trace: return QByteArrayLiteral("TRACE");
    default: return QByteArrayLiteral("UNKNOWN");
    }
}

// The WebSocket version this server speaks (RFC 6455).
constexpr char kWebSocketVersion[] = "13";
constexpr int kWebSocketKeyBytes = 16;

// Why the server's WebSocket side would refuse this upgrade (RFC 6455
// 4.2.1), or nothing. Such a request is answered here, in full: Qt's own
// refusal (a 400 with no Content-Length) is not a complete answer.
std::optional<QString> webSocketHandshakeProblem(const QHttpServerRequest &request)
{
    if (request.method() != QHttpServerRequest::Method::Get)
        return QStringLiteral("a WebSocket upgrade must be a GET");
    if (request.value(QByteArrayLiteral("host")).trimmed().isEmpty())
        return QStringLiteral("a WebSocket upgrade needs a Host header");
    bool upgrade = false;
    for (const QByteArray &token : request.value(QByteArrayLiteral("connection")).split(','))
        upgrade = upgrade || token.trimmed().compare(QByteArrayLiteral("upgrade"), Qt::CaseInsensitive) == 0;
    if (!upgrade)
        return QStringLiteral("a WebSocket upgrade needs \"Connection: Upgrade\"");
    const auto key = QByteArray::fromBase64Encoding(request.value(QByteArrayLiteral("sec-websocket-key")).trimmed(), QByteArray::AbortOnBase64DecodingErrors);
    if (!key || key.decoded.size() != kWebSocketKeyBytes)
        return QStringLiteral("Sec-WebSocket-Key must be %1 bytes in base64").arg(kWebSocketKeyBytes);
    if (request.value(QByteArrayLiteral("sec-websocket-version")).trimmed() != kWebSocketVersion)
        return QStringLiteral("this server speaks WebSocket version %1 only").arg(QLatin1String(kWebSocketVersion));
    return std::nullopt;
}

} // namespace

class HttpAdapter::Private {
public:
    using RawServer = HttpCompat::RequestServer;

    // Accepts connections itself so that its readyRead slot on each socket
    // runs before the HTTP server's (see screen()).
    class GateServer final : public QTcpServer {
    public:
        GateServer(Private &p, QObject *parent)
            : QTcpServer(parent)
            , m_p(p)
        {
        }

        // A held connection goes back to the HTTP server, which connects
        // its reader again (and our screen() before it).
        void resume(QTcpSocket *socket)
        {
            m_p.screenBeforeServer(socket);
            addPendingConnection(socket);
            QMetaObject::invokeMethod(this, "pendingConnectionAvailable", Qt::DirectConnection);
            if (socket->bytesAvailable() > 0)
                QMetaObject::invokeMethod(socket, &QIODevice::readyRead, Qt::QueuedConnection);
        }

    protected:
        void incomingConnection(qintptr handle) override
        {
            auto *socket = new QTcpSocket(this);
            socket->setSocketDescriptor(handle);
            if (!m_p.m_guard.admit(socket)) {
                socket->abort(); // every connection is busy: no room
                socket->deleteLater();
                return;
            }
            m_p.m_connections.insert(socket, Connection());
            socket->setReadBufferSize(kReadAhead);
            m_p.screenBeforeServer(socket);
            // The HTTP server is the context: its destruction cuts this
            // before its sockets go.
            connect(socket, &QObject::destroyed, m_p.m_server.get(), [this, socket]() { m_p.m_connections.remove(socket); });
            addPendingConnection(socket); // the HTTP server takes it from here
        }

    private:
        Private &m_p;
    };

    struct Slot {
        std::optional<HttpAnswer> answer;
    };
    struct Connection {
        std::deque<std::shared_ptr<Slot>> queue; // answers in request order
        bool headScreened = false; // the current request's head was screened
        qint64 bodyCap = 0; // the current request's body cap
        qint64 requestBytes = 0; // of a chunked request: read so far, head included
        qint64 rawCap = -1; // of a chunked request: the most it may take, head and framing included; else -1
        bool uploading = false; // on the raw upload path
        bool rejected = false; // answered and closing (or uploading); input is discarded
        qint64 discarded = 0; // input dropped since
        bool authed = false; // the current request's head carries a credential
        bool streaming = false; // a streamed body is going out: later answers wait
        std::optional<ApiError> webSocketRefusal; // an upgrade's credential was refused (401, 403, 429)
        QByteArray requestId; // the current request's, once its head was screened
    };

    Private(HttpAdapter *q, HttpEndpoints endpoints, Options options)
        : m_q(q)
        , m_endpoints(std::move(endpoints))
        , m_router(m_endpoints.router)
        , m_options(std::move(options))
        , m_auth(m_endpoints.tokens, m_options.token)
        , m_server(std::make_unique<RawServer>(
              RawServer::Hooks{[this](const QHttpServerRequest &request, QTcpSocket *socket) { return handleRequest(request, socket); },
                               [this](const QHttpServerRequest &request, QTcpSocket *socket) { refuse(request, socket); },
                               [this](const QHostAddress &peer, quint16 peerPort) { return connectionOf(peer, peerPort); }}))
        , m_guard(m_options.connections, [this](QTcpSocket *socket) { return busy(socket); })
    {
        QObject::connect(m_server.get(), &QAbstractHttpServer::newWebSocketConnection, m_server.get(), [this]() { acceptWebSockets(); });
        m_auth.setAuditLog(m_endpoints.audit);
        QObject::connect(&m_auth.tokens(), &TokenRegistry::revoked, m_server.get(), [this](const QString &id) { m_auth.tokenRevoked(id); });
    }

    // The WebSocket route a request's path names, or nullptr.
    const Route *webSocketRoute(const QHttpServerRequest &request, QHash<QString, QString> *params = nullptr) const
    {
        Router::Match m = m_router.find(QByteArrayLiteral("GET"), Router::pathSegments(request.url().path(QUrl::FullyEncoded).toUtf8()));
        if (params)
            *params = std::move(m.params);
        return m.route && m.route->webSocket != Route::WebSocket::None ? m.route : nullptr;
    }

    // Everything a request offers as a credential (RequestAuth decides).
    static RequestAuth::Credentials credentials(const QHttpServerRequest &request, const QTcpSocket *socket)
    {
        return {request.value(QByteArrayLiteral("authorization")), cookieHeaders(request),
                request.query().queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded), socket->peerAddress().toString()};
    }

    // The answer to an upgrade handleRequest() refused: no such endpoint, no
    // credential, or a handshake the server's WebSocket side would refuse
    // (with the version this server speaks).
    HttpAnswer webSocketRefusal(const QHttpServerRequest &request, QTcpSocket *socket) const
    {
        if (!webSocketRoute(request))
            return errorAnswer(ApiError(ApiError::Code::NotFound, QStringLiteral("no WebSocket endpoint at %1").arg(request.url().path())));
        if (const auto it = m_connections.constFind(socket); it != m_connections.cend() && it->webSocketRefusal)
            return errorAnswer(*it->webSocketRefusal);
        HttpAnswer answer = errorAnswer(ApiError(ApiError::Code::InvalidArgument, webSocketHandshakeProblem(request).value_or(QString())));
        answer.headers.append({QByteArrayLiteral("Sec-WebSocket-Version"), QByteArrayLiteral(kWebSocketVersion)});
        return answer;
    }

    // A request handleRequest() refused: the server closes the connection
    // after this, so the answer says so.
    void refuse(const QHttpServerRequest &request, QTcpSocket *socket) const
    {
        HttpAnswer answer = webSocketRefusal(request, socket);
        answer.requestId = RequestId::accept(request.value(RequestId::kHeaderLower));
        answer.headers.append({QByteArrayLiteral("Connection"), QByteArrayLiteral("close")});
        socket->write(httpResponse(answer));
        // Into the kernel now: Qt 6.8 deletes a refused upgrade's socket as
        // soon as it is no longer connected, with whatever it still buffers.
        socket->flush();
    }

    // The open connection from this peer (Qt 6.5 and later name a request's
    // peer, not its socket).
    QTcpSocket *connectionOf(const QHostAddress &peer, quint16 peerPort) const
    {
        for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
            if (it.key()->peerPort() == peerPort && it.key()->peerAddress().isEqual(peer))
                return it.key();
        }
        return nullptr;
    }

    // An upgraded socket, path and token checked in handleRequest().
    void acceptWebSockets()
    {
        while (m_server->hasPendingWebSocketConnections()) {
            std::unique_ptr<QWebSocket> ws = m_server->nextPendingWebSocketConnection();
            if (!ws)
                continue;
            const Router::Match m = m_router.find(QByteArrayLiteral("GET"), Router::pathSegments(ws->requestUrl().path(QUrl::FullyEncoded).toUtf8()));
            const Route *route = m.route;
            const QHash<QString, QString> &params = m.params;
            if (!route || route->webSocket == Route::WebSocket::None || !m_endpoints.webSocket) {
                ws->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("no such endpoint"));
                continue;
            }
            m_endpoints.metrics.recordRequest(QStringLiteral("GET"), route->pattern, 101, 0);
            const Upgrade upgrade = m_upgrades.take(peerKey(ws->peerAddress(), ws->peerPort()));
            closeOnRevocation(ws.get(), upgrade.caller);
            // What the socket starts logs with the upgrade's id, the one in
            // its audit entry (the client's, or the one made then).
            const QByteArray requestId = upgrade.requestId.isEmpty() ? RequestId::generate() : upgrade.requestId;
            const Core::Log::Scope scope({QString::fromLatin1(requestId), params.value(QStringLiteral("name"))});
            m_endpoints.webSocket(std::move(ws), *route, params, m_q);
        }
    }

    ~Private()
    {
        // Sockets die with the server; their slots into us are cut first.
        m_server.reset();
    }

    qint64 bodyLimit(const Route *route) const { return route && route->body == Route::Body::File ? m_options.maxFileBody : m_options.maxJsonBody; }

    static RequestAuth::Headers cookieHeaders(const QHttpServerRequest &request)
    {
        return {request.value(QByteArrayLiteral("origin")), request.value(QByteArrayLiteral("host")), request.value(QByteArrayLiteral("sec-fetch-site")),
                request.value(QByteArrayLiteral("cookie"))};
    }

    static bool isWebSocketUpgrade(const QHttpServerRequest &request)
    {
        return request.value(QByteArrayLiteral("upgrade")).compare(QByteArrayLiteral("websocket"), Qt::CaseInsensitive) == 0;
    }

    // Called by the HTTP server once a whole request is read.
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
    {
        auto it = m_connections.find(socket);
        if (it == m_connections.end())
            return false;
        Connection &c = *it;
        wholeRequestRead(socket, c);
        if (c.rejected)
            return true; // answered already; the connection is closing
        if (isWebSocketUpgrade(request)) {
            QHash<QString, QString> params;
            const Route *route = webSocketRoute(request, &params);
            const RequestAuth::Decision auth =
                route ? m_auth.decide(route, params.value(QStringLiteral("name")), credentials(request, socket)) : RequestAuth::Decision();
            c.webSocketRefusal = auth.refusal;
            const int refused = !route ? 404 : auth.refusal ? httpStatus(auth.refusal->code) : webSocketHandshakeProblem(request) ? 400 : 0;
            const QString pattern = route ? route->pattern : QStringLiteral("unmatched");
            const QByteArray requestId = RequestId::accept(request.value(RequestId::kHeaderLower));
            m_auth.record(auth.caller,
                          {QStringLiteral("GET"), pattern, params.value(QStringLiteral("name")), refused ? refused : 101, socket->peerAddress().toString(),
                           QString::fromLatin1(requestId), true});
            if (refused != 0) {
                m_endpoints.metrics.recordRequest(QStringLiteral("GET"), pattern, refused, 0);
                return false; // refuse() answers
            }
            rememberUpgrade(socket, {*auth.caller, requestId});
            // The server's WebSocket side takes the socket (see the top).
            m_connections.erase(it);
            m_guard.release(socket);
            socket->setReadBufferSize(0); // QWebSocket reads whole frames, capped by VncSocket and ExecSocket
            return true;
        }
        auto slot = std::make_shared<Slot>();
        c.queue.push_back(slot);

        const QPointer<QTcpSocket> guard(socket);
        QElapsedTimer timer;
        timer.start();
        const QString method = QString::fromLatin1(methodName(request.method()));
        // The handler and what it starts log with the request's id.
        const QByteArray requestId = RequestId::accept(request.value(RequestId::kHeaderLower));
        const Core::Log::Scope scope({QString::fromLatin1(requestId), QString()});
        const Dispatched d = dispatch(request, socket, requestId);
        // The route's pattern, never the raw path: the label set stays bounded.
        const QString routeLabel = d.route ? d.route->pattern : QStringLiteral("unmatched");
        const auto clientGone = std::make_shared<QMetaObject::Connection>();
        const QString path = request.url().path();
        RequestAuth::Outcome audited{method, routeLabel, d.vm, 0, socket->peerAddress().toString(), QString::fromLatin1(requestId)};
        auto complete = [this, guard, slot, timer, method, routeLabel, clientGone, caller = d.caller, audited, requestId, path](HttpAnswer answer) {
            QObject::disconnect(*clientGone);
            m_endpoints.metrics.recordRequest(method, routeLabel, answer.status, timer.nsecsElapsed() / 1e9);
            Core::Log::api()->info("{} {} {} {:.1f} ms", method.toStdString(), path.toStdString(), answer.status, timer.nsecsElapsed() / 1e6);
            RequestAuth::Outcome outcome = audited;
            outcome.status = answer.status;
            m_auth.record(caller, outcome);
            answer.requestId = requestId;
            slot->answer.emplace(std::move(answer));
            if (guard)
                flush(guard);
        };
        if (d.immediate) {
            complete(*d.immediate);
            return true;
        }
        *clientGone = cancelWhenGone(socket, d.future);
        Core::whenDone(d.future, m_q, [complete](const ApiResult &result) { complete(httpAnswer(result)); });
        return true;
    }

    // The client going away before its answer cancels the handler's future:
    // the handler may stop the work (an orphaned exec is killed in the
    // guest and its output dropped).
    QMetaObject::Connection cancelWhenGone(QTcpSocket *socket, ApiFuture future)
    {
        return QObject::connect(socket, &QAbstractSocket::disconnected, m_q, [future]() mutable { future.cancel(); });
    }

    struct Dispatched {
        const Route *route = nullptr; // the route, even when the request fails before it runs
        QString vm; // its {name}
        std::optional<Principal> caller; // who asked, if anyone could tell
        std::optional<HttpAnswer> immediate; // failed before its handler: auth, routing, caps
        ApiFuture future; // otherwise: the handler's answer
    };

    // Auth, routing and caps; then the route's handler.
    Dispatched dispatch(const QHttpServerRequest &request, const QTcpSocket *socket, const QByteArray &requestId)
    {
        const QByteArray method = methodName(request.method());
        Router::Match match = m_router.find(method, Router::pathSegments(request.url().path(QUrl::FullyEncoded).toUtf8()));
        const Route *route = match.route;
        const QString vm = match.params.value(QStringLiteral("name")); // a viewer session is one VM's
        const RequestAuth::Decision auth = m_auth.decide(route, vm, credentials(request, socket));
        Dispatched d{route, vm, auth.caller, {}, {}};
        const bool setCookie = auth.viaQueryToken;
        if (auth.refusal)
            d.immediate = errorAnswer(*auth.refusal);
        else if (!route)
            d.immediate = noRoute(method, request.url().path(), match.allowed);
        else if (route->webSocket != Route::WebSocket::None)
            d.immediate = errorAnswer(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("%1 takes a WebSocket upgrade only").arg(request.url().path())));
        else if (request.body().size() > bodyLimit(route))
            d.immediate = errorAnswer(tooLarge(bodyLimit(route)));
        if (d.immediate)
            return d;
        Request r = makeRequest(std::move(match.params), request.query(), HttpCompat::requestHeaders(request));
        r.body = request.body();
        r.caller = auth.caller.value_or(Principal{}); // no caller: a public route, never VM-scoped
        r.requestId = requestId;
        const Core::Log::Scope scope({QString::fromLatin1(requestId), vm});
        // What may change or drive a VM uses it (a viewer's read does not).
        if (route->vmScoped() && route->role != Role::Viewer && m_endpoints.vmGate)
            d.future = m_endpoints.vmGate(vm, [handler = route->handler, r]() { return handler(r); });
        else
            d.future = route->handler(r);
        if (setCookie)
            d.future = withSession(d.future, *route, vm, *auth.caller);
        return d;
    }

    // 404, or 405 with the methods the path has.
    static HttpAnswer noRoute(const QByteArray &method, const QString &path, const QByteArrayList &allowed)
    {
        if (allowed.isEmpty())
            return errorAnswer(ApiError(ApiError::Code::NotFound, QStringLiteral("no route %1").arg(path)));
        HttpAnswer a = errorAnswer(
            ApiError(ApiError::Code::MethodNotAllowed,
                     QStringLiteral("%1 is not allowed on %2 (allowed: %3)").arg(QString::fromLatin1(method), path, QString::fromLatin1(allowed.join(", ")))));
        a.headers.append({QByteArrayLiteral("Allow"), allowed.join(", ")});
        return a;
    }

    // A page opened with ?token=: its later requests carry a session's
    // cookie (a viewer's for that VM, or the docs page's), never the token.
    ApiFuture withSession(ApiFuture future, const Route &route, const QString &vm, const Principal &caller)
    {
        const QByteArray cookie = m_auth.openSession(route, vm, caller);
        return future.then([cookie](ApiResult result) {
            if (!result)
                return result;
            Response response = *result;
            response.headers.append({QByteArrayLiteral("Set-Cookie"), cookie});
            return ApiResult(response);
        });
    }

    // An upgraded socket's caller and request id, from the upgrade until
    // acceptWebSockets() takes them (keyed by the peer's address and port,
    // which the socket keeps; dropped if the handshake fails and the socket
    // goes). The 101 itself is Qt WebSockets' handshake: it carries no
    // X-Request-Id; the id is in the upgrade's audit entry and log lines.
    struct Upgrade {
        Principal caller;
        QByteArray requestId;
    };
    static QString peerKey(const QHostAddress &address, quint16 port) { return address.toString() + QLatin1Char('|') + QString::number(port); }
    void rememberUpgrade(QTcpSocket *socket, const Upgrade &upgrade)
    {
        const QString key = peerKey(socket->peerAddress(), socket->peerPort());
        m_upgrades.insert(key, upgrade);
        QObject::connect(socket, &QObject::destroyed, m_server.get(), [this, key]() { m_upgrades.remove(key); });
    }
    // Revoking the token that opened a WebSocket closes it.
    void closeOnRevocation(QWebSocket *ws, const Principal &caller)
    {
        if (caller.tokenId.isEmpty())
            return;
        QObject::connect(&m_auth.tokens(), &TokenRegistry::revoked, ws, [ws, id = caller.tokenId](const QString &revoked) {
            if (revoked == id)
                ws->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("the token was revoked"));
        });
    }

    static ApiError unauthorized()
    {
        return ApiError(ApiError::Code::Unauthorized, QStringLiteral("a valid token is required: Authorization: Bearer <token>"));
    }

    static ApiError tooLarge(qint64 limit)
    {
        return ApiError(ApiError::Code::PayloadTooLarge, QStringLiteral("the request body is larger than %1 bytes").arg(limit));
    }

    // Write the answers that are ready, in request order.
    void flush(QTcpSocket *socket)
    {
        auto it = m_connections.find(socket);
        if (it == m_connections.end())
            return;
        Connection &c = *it;
        while (!c.streaming && !c.queue.empty() && c.queue.front()->answer) {
            const std::shared_ptr<Slot> slot = c.queue.front();
            c.queue.pop_front();
            const HttpAnswer &answer = *slot->answer;
            if (socket->state() != QAbstractSocket::ConnectedState)
                continue;
            if (answer.stream)
                startStream(socket, c, answer);
            else
                socket->write(httpResponse(answer));
            m_guard.answered(socket); // no longer busy, and not idle either
        }
    }

    // The server read a request whole: what follows is read ahead no more
    // than kReadAhead. Setting the size also turns the socket's reading on
    // again when its buffer is empty: Qt stops reading at a full buffer and
    // starts again only on a read past its end, which the server never makes
    // when a request ends exactly where the buffer does.
    static void wholeRequestRead(QTcpSocket *socket, Connection &c)
    {
        c.requestBytes = 0;
        socket->setReadBufferSize(kReadAhead);
    }

    // Our screen() on a socket's readyRead, connected before the HTTP
    // server's reader so that it runs first. The HTTP server is the context:
    // its destruction cuts this before its sockets go.
    void screenBeforeServer(QTcpSocket *socket)
    {
        QObject::connect(socket, &QTcpSocket::readyRead, m_server.get(), [this, socket]() { screen(socket); });
    }

    // A request of the connection is being answered, or read past its head,
    // or an upload streams: the connection is neither idle nor evictable.
    bool busy(QTcpSocket *socket) const
    {
        auto it = m_connections.constFind(socket);
        return it != m_connections.cend() && (!it->queue.empty() || it->streaming || it->uploading || (it->headScreened && socket->isTransactionStarted()));
    }

    // A streamed body: its head now, its bytes as the client takes them;
    // the connection's later answers wait for its end.
    void startStream(QTcpSocket *socket, Connection &c, const HttpAnswer &answer)
    {
        c.streaming = true;
        socket->write(streamedHead(answer));
        StreamedBody::start(socket, answer.stream, answer.streamSize, [this, socket](bool complete) {
            auto it = m_connections.find(socket);
            if (it == m_connections.end())
                return;
            it->streaming = false;
            if (complete)
                flush(socket);
            else
                it->queue.clear(); // the connection is closing
        });
    }

    // Runs on readyRead before the HTTP server reads. A new request starts
    // when no read transaction is open; its head is screened once complete;
    // a chunked body is counted against its cap.
    void screen(QTcpSocket *socket)
    {
        auto it = m_connections.find(socket);
        if (it == m_connections.end())
            return;
        Connection &c = *it;
        if (c.rejected) {
            c.discarded += discardInput(socket);
            if (!c.authed && c.discarded > kRejectDrainBytes)
                socket->disconnectFromHost();
            return;
        }
        if (!socket->isTransactionStarted()) {
            if (holdReading(socket))
                return;
            c.headScreened = false;
            c.rawCap = -1;
            c.requestId.clear();
            socket->setReadBufferSize(kReadAhead);
        }
        if (!c.headScreened) {
            screenNewHead(socket, c);
            return;
        }
        if (c.rawCap < 0)
            return;
        // The server consumed what came before: these bytes are new.
        c.requestBytes += socket->bytesAvailable();
        if (c.requestBytes > c.rawCap)
            reject(socket, c, tooLarge(c.bodyCap));
    }

    // Between two requests: stop reading a connection whose answers are
    // unread (over the guard's high-water mark) until they drain.
    bool holdReading(QTcpSocket *socket)
    {
        const QPointer<QTcpSocket> guard(socket);
        const bool held = m_guard.holdReading(socket, [this, guard]() {
            if (!guard || !m_tcp || !m_connections.contains(guard))
                return;
            guard->setReadBufferSize(kReadAhead);
            m_tcp->resume(guard);
        });
        if (held) {
            // Our slot and the server's reader (this emission's too).
            m_server->stopReading(socket);
            socket->setReadBufferSize(kHeldReadBuffer);
        }
        return held;
    }

    struct RequestStart {
        QByteArray bytes; // up to a whole head
        qint64 arrived = 0; // all there is from the request's first byte
    };

    // The current request from its first byte. When the head came in pieces
    // the server has read some of it in its transaction: rewound, peeked
    // at, read again.
    static RequestStart peekRequestStart(QTcpSocket *socket)
    {
        if (!socket->isTransactionStarted())
            return {socket->peek(kMaxHeaderBytes), socket->bytesAvailable()};
        const qint64 unread = socket->bytesAvailable();
        socket->rollbackTransaction();
        RequestStart start{socket->peek(kMaxHeaderBytes), socket->bytesAvailable()};
        socket->startTransaction();
        socket->read(start.arrived - unread);
        return start;
    }

    // The head of a new request, whole or in part.
    void screenNewHead(QTcpSocket *socket, Connection &c)
    {
        const RequestStart start = peekRequestStart(socket);
        const QByteArray &peeked = start.bytes;
        if (peeked.isEmpty())
            return;
        m_guard.headStarted(socket);
        qsizetype end = peeked.indexOf("\r\n\r\n");
        if (end < 0)
            end = peeked.indexOf("\n\n");
        if (end < 0) {
            if (peeked.size() >= kMaxHeaderBytes)
                reject(socket, c, ApiError(ApiError::Code::PayloadTooLarge, QStringLiteral("the request head is larger than %1 bytes").arg(kMaxHeaderBytes)));
            return; // the rest of the head comes later, within the guard's head timeout
        }
        m_guard.headComplete(socket);
        c.headScreened = true;
        std::optional<Head> head = parseHead(peeked, end);
        if (!head)
            return; // the server's parser answers that
        c.requestBytes = start.arrived; // later bytes are new

        screenHead(socket, c, std::move(*head));
    }

    // Whether a head carries a credential its route takes. Decides only how
    // much body is read; dispatch() decides whether the request is served.
    bool credentialed(const Head &head, const Router::Match &match) const
    {
        const Route *route = match.route;
        if (m_auth.bearer(head.header("authorization").value_or(QByteArray())))
            return true;
        if (route
            && m_auth.routeCookie(*route,
                                  {head.header("origin").value_or(QByteArray()), head.header("host").value_or(QByteArray()),
                                   head.header("sec-fetch-site").value_or(QByteArray()), head.header("cookie").value_or(QByteArray())},
                                  match.params.value(QStringLiteral("name"))))
            return true;
        return route && route->pageToken && m_auth.queryToken(head.query().queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded));
    }

    // A whole head peeked at: refuse it, take it as a streamed upload, or
    // leave it to the HTTP server (answering "Expect: 100-continue").
    void screenHead(QTcpSocket *socket, Connection &c, Head head)
    {
        Router::Match match = m_router.find(head.method, Router::pathSegments(head.path()));
        const Route *route = match.route;
        c.requestId = RequestId::accept(head.header(RequestId::kHeaderLower).value_or(QByteArray()));
        const std::optional<QByteArray> length = head.header("content-length");
        const qint64 contentLength = length ? length->toLongLong() : -1;
        const bool chunked = head.header("transfer-encoding").value_or(QByteArray()).toLower().contains("chunked");
        const bool expectContinue = head.header("expect").value_or(QByteArray()).toLower() == "100-continue";
        // Without a valid token nobody gets to make the server buffer more
        // than a few KiB, and a chunked body (of any size) is not read at all.
        const bool authed = c.authed = credentialed(head, match);
        c.bodyCap = authed ? bodyLimit(route) : HttpAdapter::kMaxUnauthenticatedBody;
        if (!authed && (chunked || contentLength > c.bodyCap)) {
            reject(socket, c, unauthorized());
            return;
        }
        if (route && route->body == Route::Body::File && authed && contentLength >= 0 && !chunked && c.queue.empty()) {
            streamUpload(socket, c, *route, std::move(match.params), head, contentLength, expectContinue);
            return;
        }
        if (contentLength > c.bodyCap) {
            reject(socket, c, tooLarge(c.bodyCap));
            return;
        }
        if (chunked)
            c.rawCap = head.length + c.bodyCap + c.bodyCap / kChunkFramingShare + kChunkFramingSlack;
        // The server reads the whole request in one transaction: room for it.
        socket->setReadBufferSize((chunked ? c.rawCap : head.length + qMax<qint64>(contentLength, 0)) + kReadAhead);
        // Qt 6.4 never answers "Expect: 100-continue" (curl then waits 1 s).
        if (expectContinue && authed && (contentLength > 0 || chunked) && c.queue.empty())
            socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    }

    // A file upload with a declared length goes the raw upload path (see
    // rawupload.h), off the HTTP server.
    void streamUpload(QTcpSocket *socket, Connection &c, const Route &route, QHash<QString, QString> params, const Head &head, qint64 contentLength,
                      bool expectContinue)
    {
        const QString vm = params.value(QStringLiteral("name"));
        const RequestAuth::Decision auth =
            m_auth.decide(&route, vm, {head.header("authorization").value_or(QByteArray()), {}, {}, socket->peerAddress().toString()});
        RequestAuth::Outcome audited{QString::fromLatin1(head.method), route.pattern, vm, 0, socket->peerAddress().toString(),
                                     QString::fromLatin1(c.requestId)};
        if (auth.refusal) {
            audited.status = httpStatus(auth.refusal->code);
            m_auth.record(auth.caller, audited);
            reject(socket, c, *auth.refusal);
            return;
        }
        // Cut the HTTP server's reader (and screen()) off this socket; its
        // clean-up on disconnect stays.
        m_server->stopReading(socket);
        c.rejected = true; // nothing more for the HTTP server on this connection
        c.uploading = true;
        if (socket->isTransactionStarted())
            socket->rollbackTransaction(); // to the head's first byte
        socket->skip(head.length);
        QElapsedTimer timer;
        timer.start();
        const QString pattern = route.pattern;
        Request request = makeRequest(std::move(params), head.query(), head.headers);
        request.caller = *auth.caller;
        request.requestId = c.requestId;
        RawUpload::start(socket, std::move(request), contentLength, expectContinue, route.handler, m_q,
                         [this, timer, pattern, caller = auth.caller, audited](int status) {
                             m_endpoints.metrics.recordRequest(QStringLiteral("PUT"), pattern, status, timer.nsecsElapsed() / 1e9);
                             RequestAuth::Outcome outcome = audited;
                             outcome.status = status;
                             m_auth.record(caller, outcome);
                         });
    }

    // Answer now, discard whatever else the client sends, close soon.
    void reject(QTcpSocket *socket, Connection &c, const ApiError &error)
    {
        c.rejected = true;
        HttpAnswer answer = errorAnswer(error);
        answer.requestId = c.requestId.isEmpty() ? RequestId::generate() : c.requestId;
        socket->write(rawResponse(answer));
        discardInput(socket);
        // Closing with unread input makes the kernel reset the connection,
        // which can lose the answer: keep reading (and dropping) a while.
        QTimer::singleShot(kRejectLingerMs, socket, [socket]() { socket->disconnectFromHost(); });
    }

    // The input dropped.
    static qint64 discardInput(QTcpSocket *socket)
    {
        if (socket->isTransactionStarted())
            socket->commitTransaction(); // nothing is kept for a rollback
        return socket->skip(socket->bytesAvailable());
    }

    HttpAdapter *m_q;
    HttpEndpoints m_endpoints;
    const Router &m_router;
    Options m_options;
    RequestAuth m_auth;
    QHash<QString, Upgrade> m_upgrades; // see rememberUpgrade()
    QHash<QTcpSocket *, Connection> m_connections;
    std::unique_ptr<RawServer> m_server;
    ConnectionGuard m_guard;
    QPointer<GateServer> m_tcp;
};

HttpAdapter::HttpAdapter(HttpEndpoints endpoints, Options options, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>(this, std::move(endpoints), std::move(options)))
{
}

HttpAdapter::~HttpAdapter() = default;

Core::Expected<quint16> HttpAdapter::listen(const QHostAddress &address, quint16 port)
{
    auto *tcp = new Private::GateServer(*d, nullptr);
    if (!tcp->listen(address, port)) {
        const QString why = tcp->errorString();
        delete tcp;
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot listen on %1:%2: %3").arg(address.toString()).arg(port).arg(why));
    }
    d->m_server->bind(tcp); // takes ownership
    d->m_tcp = tcp;
    d->m_guard.watch(tcp);
    return tcp->serverPort();
}

quint16 HttpAdapter::port() const
{
    return d->m_tcp ? d->m_tcp->serverPort() : 0;
}

int HttpAdapter::connectionCount() const
{
    return d->m_guard.count();
}

QStringList HttpAdapter::routes() const
{
    QStringList out;
    for (const Route &r : d->m_router.routes())
        out << QString::fromLatin1(r.method) + QLatin1Char(' ') + QString(r.pattern).replace(QLatin1String("{*"), QLatin1String("{"));
    return out;
}

} // namespace Server
