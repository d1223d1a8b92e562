#include "server/httpadapter.h"

#include "server/apicontroller.h"
#include "server/execsocket.h"
#include "server/metrics.h"
#include "server/requestauth.h"
#include "server/router.h"
#include "server/tokenstore.h"
#include "server/uploadbody.h"
#include "server/vncsocket.h"

#include <QAbstractHttpServer>
#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>
#include <QWebSocket>

#include <deque>
#include <memory>
#include <optional>

// Qt 6.4.2 HttpServer, as read in qthttpserver v6.4.2 (src/httpserver/):
// - QHttpServer::route() with a QFuture<QHttpServerResponse> answers in
//   then(this, [&request, socket]...) (qhttpserver.cpp): the raw socket and
//   the request are captured, and a client that disconnects meanwhile has its
//   socket (and request) deleted (qabstracthttpserver.cpp, handleNewConnections)
//   before the answer is written. QHttpServerResponder holds a raw socket too.
// So this adapter subclasses QAbstractHttpServer (handleRequest() gets the
// socket), keeps a QPointer to it, and writes through makeResponder() only
// while the socket lives. Answers go out in request order per connection.
// - A request reaches handleRequest() only once its body is buffered whole
//   (QHttpServerRequestPrivate::parse). Sockets come through our own
//   QTcpServer, whose readyRead slot runs before the server's: it refuses a
//   declared Content-Length over the route's cap before the body is read, and
//   caps what any one request may make the server buffer.
// - WebSocket upgrades are handed over only when handleRequest() returns true
//   and newWebSocketConnection is connected; otherwise missingHandler() runs
//   and the socket is closed (qabstracthttpserver.cpp, handleReadyRead). On
//   hand-over the server calls socket->disconnect(), which cuts our slots on
//   the socket too, so the connection is forgotten here first. Path and token
//   are checked in handleRequest(); missingHandler() answers 401 or 404.

namespace Server {
namespace {

using Status = QHttpServerResponder::StatusCode;

constexpr qint64 kMaxHeaderBytes = 64 * 1024;
constexpr int kRejectLingerMs = 2000;
constexpr int kDrainTimeoutMs = 30000; // the rest of an upload answered early

// The one mapping of API errors to HTTP statuses.
Status httpStatus(ApiError::Code code)
{
    switch (code) {
    case ApiError::Code::InvalidJson:
    case ApiError::Code::InvalidArgument: return Status::BadRequest;
    case ApiError::Code::Unauthorized: return Status::Unauthorized;
    case ApiError::Code::PermissionDenied: return Status::Forbidden;
    case ApiError::Code::NotFound: return Status::NotFound;
    case ApiError::Code::MethodNotAllowed: return Status::MethodNotAllowed;
    case ApiError::Code::AlreadyExists:
    case ApiError::Code::InvalidState:
    case ApiError::Code::ControlHeld: return Status::Conflict;
    case ApiError::Code::PayloadTooLarge: return Status::PayloadTooLarge;
    case ApiError::Code::Timeout: return Status::GatewayTimeout;
    case ApiError::Code::AgentUnavailable: return Status::ServiceUnavailable;
    case ApiError::Code::GuestError: return Status::BadGateway;
    case ApiError::Code::NoSpace: return Status::InsufficientStorage;
    case ApiError::Code::Corrupted: return Status::UnprocessableEntity;
    case ApiError::Code::Unsupported: return Status::NotImplemented;
    case ApiError::Code::VmFailed:
    case ApiError::Code::Internal: return Status::InternalServerError;
    }
    return Status::InternalServerError;
}

QByteArray errorBody(const ApiError &error)
{
    const QJsonObject body{{QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), apiErrorCodeName(error.code)},
                                                                 {QStringLiteral("message"), error.message}}}};
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

QHttpServerResponse errorResponse(const ApiError &error)
{
    QHttpServerResponse r(QByteArrayLiteral("application/json"), errorBody(error), httpStatus(error.code));
    if (error.code == ApiError::Code::Unauthorized)
        r.addHeader(QByteArrayLiteral("WWW-Authenticate"), QByteArrayLiteral("Bearer realm=\"microvm-sandbox\""));
    return r;
}

QHttpServerResponse toHttp(const ApiResult &result)
{
    if (!result.ok())
        return errorResponse(result.error());
    const Response &response = result.response();
    if (response.kind == Response::Kind::Empty)
        return QHttpServerResponse(Status::NoContent);
    const Status status = response.created ? Status::Created : Status::Ok;
    if (response.kind == Response::Kind::Bytes) {
        QHttpServerResponse r(response.contentType, response.bytes, status);
        for (const auto &[name, value] : response.headers)
            r.addHeader(name, value);
        return r;
    }
    const QJsonDocument doc = response.json.isArray() ? QJsonDocument(response.json.toArray()) : QJsonDocument(response.json.toObject());
    QHttpServerResponse r(QByteArrayLiteral("application/json"), doc.toJson(QJsonDocument::Compact), status);
    for (const auto &[name, value] : response.headers)
        r.addHeader(name, value);
    return r;
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

} // namespace

class HttpAdapter::Private {
public:
    // Subclassed for handleRequest(request, socket) and makeResponder().
    class RawServer final : public QAbstractHttpServer {
    public:
        explicit RawServer(Private &p) : m_p(p) {}
        static void send(const QHttpServerRequest &request, QTcpSocket *socket, const QHttpServerResponse &response)
        {
            response.write(makeResponder(request, socket));
        }

    protected:
        bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override { return m_p.handleRequest(request, socket); }
        void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override
        {
            // The server closes the connection after this: say so.
            QHttpServerResponse response = m_p.webSocketRoute(request)
                                               ? errorResponse(unauthorized())
                                               : errorResponse(ApiError(ApiError::Code::NotFound,
                                                                        QStringLiteral("no WebSocket endpoint at %1").arg(request.url().path())));
            response.addHeader(QByteArrayLiteral("Connection"), QByteArrayLiteral("close"));
            send(request, socket, response);
        }

    private:
        Private &m_p;
    };

    // Accepts connections itself so that its readyRead slot on each socket
    // runs before the HTTP server's (see screen()).
    class GateServer final : public QTcpServer {
    public:
        GateServer(Private &p, QObject *parent) : QTcpServer(parent), m_p(p) {}

    protected:
        void incomingConnection(qintptr handle) override
        {
            auto *socket = new QTcpSocket(this);
            socket->setSocketDescriptor(handle);
            m_p.m_connections.insert(socket, Connection());
            // The HTTP server is the context: its destruction cuts these
            // before its sockets go.
            connect(socket, &QTcpSocket::readyRead, m_p.m_server.get(), [this, socket]() { m_p.screen(socket); });
            connect(socket, &QObject::destroyed, m_p.m_server.get(), [this, socket]() { m_p.m_connections.remove(socket); });
            addPendingConnection(socket); // the HTTP server takes it from here
        }

    private:
        Private &m_p;
    };

    struct Slot {
        std::optional<QHttpServerResponse> response;
    };
    struct Connection {
        const QHttpServerRequest *request = nullptr; // one per socket, lives as long as it
        std::deque<std::shared_ptr<Slot>> queue;     // answers in request order
        qint64 requestBytes = 0;                     // read for the current request
        bool rejected = false;                       // answered and closing; input is discarded
    };

    Private(HttpAdapter *q, ApiController &controller, Options options)
        : m_q(q)
        , m_controller(controller)
        , m_options(std::move(options))
        , m_auth(m_options.token)
        , m_server(std::make_unique<RawServer>(*this))
    {
        QObject::connect(m_server.get(), &QAbstractHttpServer::newWebSocketConnection, m_server.get(), [this]() { acceptWebSockets(); });
        using C = ApiController;
        add("GET", "/api/v1/health", &C::health, false);
        add("GET", "/api/v1/templates", &C::listTemplates);
        add("GET", "/api/v1/vms", &C::listVms);
        add("POST", "/api/v1/vms", &C::createVm);
        add("GET", "/api/v1/vms/{name}", &C::getVm);
        add("DELETE", "/api/v1/vms/{name}", &C::deleteVm);
        add("POST", "/api/v1/vms/{name}/start", &C::startVm);
        add("POST", "/api/v1/vms/{name}/stop", &C::stopVm);
        add("POST", "/api/v1/vms/{name}/pause", &C::pauseVm);
        add("POST", "/api/v1/vms/{name}/resume", &C::resumeVm);
        add("POST", "/api/v1/vms/{name}/restart", &C::restartVm);
        add("POST", "/api/v1/vms/{name}/exec", &C::exec);
        add("PUT", "/api/v1/vms/{name}/files", &C::putFile, true, Route::Body::File);
        add("GET", "/api/v1/vms/{name}/files", &C::getFile);
        add("GET", "/api/v1/vms/{name}/files/list", &C::listFiles);
        add("GET", "/api/v1/vms/{name}/console", &C::console);
        add("POST", "/api/v1/vms/{name}/snapshots", &C::createSnapshot);
        add("GET", "/api/v1/vms/{name}/snapshots", &C::listSnapshots);
        add("GET", "/api/v1/vms/{name}/snapshots/{snap}", &C::getSnapshot);
        add("DELETE", "/api/v1/vms/{name}/snapshots/{snap}", &C::deleteSnapshot);
        add("POST", "/api/v1/vms/{name}/snapshots/{snap}/restore", &C::restoreSnapshot);
        add("POST", "/api/v1/vms/{name}/snapshots/{snap}/fork", &C::forkSnapshot);
        add("GET", "/api/v1/vms/{name}/screenshot", &C::screenshot);
        add("POST", "/api/v1/vms/{name}/input", &C::input);
        add("GET", "/api/v1/vms/{name}/display", &C::display).cookieOk = true;
        add("POST", "/api/v1/vms/{name}/display/control", &C::displayControl).cookieOk = true;
        addWebSocket("/api/v1/vms/{name}/exec/ws");
        addWebSocket("/api/v1/vms/{name}/vnc").cookieOk = true;
        Route &viewer = add("GET", "/vnc/{name}", &C::viewerPage);
        viewer.pageToken = true;
        viewer.cookieOk = true;
        add("GET", "/novnc/{*path}", &C::novncAsset).cookieOk = true;
        add("GET", "/api/v1/openapi.json", &C::openApi);
        add("GET", "/metrics", &C::metrics);
    }

    Route &addWebSocket(const char *pattern)
    {
        Route &r = add("GET", pattern, nullptr);
        r.webSocket = true;
        return r;
    }

    // The WebSocket route a request's path names, or nullptr.
    const Route *webSocketRoute(const QHttpServerRequest &request, QHash<QString, QString> *params = nullptr) const
    {
        Router::Match m = m_router.find(QByteArrayLiteral("GET"), Router::pathSegments(request.url().path(QUrl::FullyEncoded).toUtf8()));
        if (params)
            *params = std::move(m.params);
        return m.route && m.route->webSocket ? m.route : nullptr;
    }

    // Browsers cannot set headers on a WebSocket: ?token= is taken too.
    bool webSocketAuthorized(const QHttpServerRequest &request) const
    {
        if (m_auth.bearer(request.value(QByteArrayLiteral("authorization"))))
            return true;
        const Route *route = webSocketRoute(request);
        if (route && route->cookieOk && m_auth.cookie(cookieHeaders(request)))
            return true;
        return m_auth.queryToken(request.query().queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded));
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
            if (!route || !route->webSocket) {
                ws->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("no such endpoint"));
                continue;
            }
            m_controller.metrics().recordRequest(QStringLiteral("GET"), route->pattern, 101, 0);
            if (route->pattern.endsWith(QLatin1String("/vnc")))
                new VncSocket(std::move(ws), m_controller, params.value(QStringLiteral("name")), m_q);
            else
                new ExecSocket(std::move(ws), m_controller, params.value(QStringLiteral("name")), m_q);
        }
    }

    ~Private()
    {
        // Sockets die with the server; their slots into us are cut first.
        m_server.reset();
    }

    Route &add(const char *method, const char *pattern, ApiController::Handler handler, bool needsAuth = true,
               Route::Body body = Route::Body::Json)
    {
        Route &r = m_router.add(method, QString::fromLatin1(pattern), handler);
        r.needsAuth = needsAuth;
        r.body = body;
        return r;
    }

    qint64 bodyLimit(const Route *route) const
    {
        return route && route->body == Route::Body::File ? m_options.maxFileBody : m_options.maxJsonBody;
    }

    // The most any one request may make the server buffer, whatever it says.
    qint64 hardLimit() const { return qMax(m_options.maxFileBody, m_options.maxJsonBody) + kMaxHeaderBytes + (1 << 20); }

    static RequestAuth::Headers cookieHeaders(const QHttpServerRequest &request)
    {
        return {request.value(QByteArrayLiteral("origin")), request.value(QByteArrayLiteral("host")),
                request.value(QByteArrayLiteral("sec-fetch-site")), request.value(QByteArrayLiteral("cookie"))};
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
        c.requestBytes = 0;
        if (c.rejected)
            return true; // answered already; the connection is closing
        if (isWebSocketUpgrade(request)) {
            const Route *route = webSocketRoute(request);
            if (!route || !webSocketAuthorized(request)) {
                m_controller.metrics().recordRequest(QStringLiteral("GET"), route ? route->pattern : QStringLiteral("unmatched"),
                                                     route ? 401 : 404, 0);
                return false; // missingHandler() answers
            }
            // The server's WebSocket side takes the socket (see the top).
            m_connections.erase(it);
            return true;
        }
        c.request = &request;
        auto slot = std::make_shared<Slot>();
        c.queue.push_back(slot);

        const QPointer<QTcpSocket> guard(socket);
        QElapsedTimer timer;
        timer.start();
        const QString method = QString::fromLatin1(methodName(request.method()));
        std::optional<QHttpServerResponse> immediate;
        const Route *route = nullptr;
        ApiFuture future = dispatch(request, &immediate, &route);
        // The route's pattern, never the raw path: the label set stays bounded.
        const QString routeLabel = route ? route->pattern : QStringLiteral("unmatched");
        auto complete = [this, guard, slot, timer, method, routeLabel](QHttpServerResponse response) {
            m_controller.metrics().recordRequest(method, routeLabel, static_cast<int>(response.statusCode()), timer.nsecsElapsed() / 1e9);
            slot->response.emplace(std::move(response));
            if (guard)
                flush(guard);
        };
        if (immediate) {
            complete(std::move(*immediate));
            return true;
        }
        const QPointer<HttpAdapter> alive(m_q);
        const bool isExec = route && route->handler == &ApiController::exec;
        future
            .then([this, alive, complete, isExec](const ApiResult &result) {
                if (!alive)
                    return;
                if (isExec)
                    m_controller.metrics().recordExec(result.ok(),
                                                      result.ok() && result.response().json[QStringLiteral("timed_out")].toBool());
                complete(toHttp(result));
            })
            .onCanceled([alive, complete]() {
                if (alive)
                    complete(errorResponse(ApiError(ApiError::Code::Internal, QStringLiteral("the operation was abandoned"))));
            });
        return true;
    }

    // Auth, routing and caps; then the controller. Failures before the
    // controller are answered through *immediate.
    // *matched: the route, even when the request fails before it runs.
    ApiFuture dispatch(const QHttpServerRequest &request, std::optional<QHttpServerResponse> *immediate, const Route **matched)
    {
        const QByteArray method = methodName(request.method());
        Router::Match match = m_router.find(method, Router::pathSegments(request.url().path(QUrl::FullyEncoded).toUtf8()));
        const Route *route = match.route;
        const QByteArrayList &allowed = match.allowed;
        *matched = route;

        bool setCookie = false;
        const bool authed = m_auth.bearer(request.value(QByteArrayLiteral("authorization")))
            || (route && route->cookieOk && m_auth.cookie(cookieHeaders(request)))
            || (route && route->pageToken
                && (setCookie = m_auth.queryToken(request.query().queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded))));
        if ((!route || route->needsAuth) && !authed) {
            immediate->emplace(errorResponse(ApiError(ApiError::Code::Unauthorized,
                                                      QStringLiteral("a valid token is required: Authorization: Bearer <token>"))));
            return {};
        }
        if (!route) {
            if (allowed.isEmpty()) {
                immediate->emplace(errorResponse(ApiError(ApiError::Code::NotFound, QStringLiteral("no route %1").arg(request.url().path()))));
            } else {
                immediate->emplace(errorResponse(ApiError(ApiError::Code::MethodNotAllowed,
                                                          QStringLiteral("%1 is not allowed on %2 (allowed: %3)")
                                                              .arg(QString::fromLatin1(method), request.url().path(),
                                                                   QString::fromLatin1(allowed.join(", "))))));
                (*immediate)->addHeader(QByteArrayLiteral("Allow"), allowed.join(", "));
            }
            return {};
        }
        if (route->webSocket) {
            immediate->emplace(errorResponse(
                ApiError(ApiError::Code::InvalidArgument, QStringLiteral("%1 takes a WebSocket upgrade only").arg(request.url().path()))));
            return {};
        }
        if (request.body().size() > bodyLimit(route)) {
            immediate->emplace(errorResponse(tooLarge(bodyLimit(route))));
            return {};
        }
        Request r;
        r.params = std::move(match.params);
        r.query = request.query();
        for (const auto &[name, value] : request.headers())
            r.headers.insert(name.toLower(), value);
        r.body = request.body();
        ApiFuture future = (m_controller.*(route->handler))(r);
        if (!setCookie)
            return future;
        // A page opened with ?token=: its later requests carry the cookie.
        const QByteArray cookie = m_auth.sessionCookie();
        return future.then([cookie](ApiResult result) {
            if (!result.ok())
                return result;
            Response response = result.response();
            response.headers.append({QByteArrayLiteral("Set-Cookie"), cookie});
            return ApiResult(response);
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
        while (!c.queue.empty() && c.queue.front()->response) {
            const std::shared_ptr<Slot> slot = c.queue.front();
            c.queue.pop_front();
            if (c.request && socket->state() == QAbstractSocket::ConnectedState)
                RawServer::send(*c.request, socket, *slot->response);
        }
    }

    // Runs on readyRead before the HTTP server reads. Between requests (no
    // read transaction open) the head of the next request is peeked at; a
    // declared body over the route's cap is refused before it is read.
    void screen(QTcpSocket *socket)
    {
        auto it = m_connections.find(socket);
        if (it == m_connections.end())
            return;
        Connection &c = *it;
        if (c.rejected) {
            discardInput(socket);
            return;
        }
        if (socket->isTransactionStarted()) {
            // In the middle of a request: the server consumed what came before.
            c.requestBytes += socket->bytesAvailable();
            if (c.requestBytes > hardLimit())
                reject(socket, c, tooLarge(hardLimit()));
            return;
        }
        c.requestBytes = socket->bytesAvailable();
        const QByteArray head = socket->peek(kMaxHeaderBytes);
        qsizetype end = head.indexOf("\r\n\r\n");
        if (end < 0)
            end = head.indexOf("\n\n");
        if (end < 0) {
            if (head.size() >= kMaxHeaderBytes)
                reject(socket, c, ApiError(ApiError::Code::PayloadTooLarge, QStringLiteral("the request head is larger than %1 bytes").arg(kMaxHeaderBytes)));
            return; // the rest of the head comes later; the hard limit still applies
        }
        const QList<QByteArray> lines = head.left(end).split('\n');
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        if (requestLine.size() < 2)
            return; // the server's parser answers that
        const QByteArray target = requestLine.at(1);
        const qsizetype q = target.indexOf('?');
        Router::Match match = m_router.find(requestLine.at(0), Router::pathSegments(q < 0 ? target : target.left(q)));
        const Route *route = match.route;
        qint64 contentLength = -1;
        bool expectContinue = false;
        QByteArray authorization;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray &line = lines.at(i);
            const qsizetype colon = line.indexOf(':');
            if (colon < 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            if (name == "content-length")
                contentLength = value.toLongLong();
            else if (name == "expect")
                expectContinue = value.toLower() == "100-continue";
            else if (name == "authorization")
                authorization = value;
        }
        // Without a valid token, nobody gets to make the server buffer an
        // upload: such a body may be as large as a JSON one, no larger.
        const bool authed = (route && !route->needsAuth) || m_auth.bearer(authorization);
        if (!authed && contentLength > m_options.maxJsonBody) {
            reject(socket, c, ApiError(ApiError::Code::Unauthorized, QStringLiteral("a valid token is required: Authorization: Bearer <token>")));
            return;
        }
        if (route && route->body == Route::Body::File && authed && contentLength >= 0 && c.queue.empty()) {
            streamUpload(socket, c, route, std::move(match.params), target, lines, end + (head.at(end) == '\r' ? 4 : 2), contentLength,
                         expectContinue);
            return;
        }
        if (contentLength > bodyLimit(route)) {
            reject(socket, c, tooLarge(bodyLimit(route)));
            return;
        }
        // Qt 6.4 never answers "Expect: 100-continue" (curl then waits 1 s).
        if (expectContinue && authed && contentLength > 0 && c.queue.empty())
            socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    }

    // A file upload with a declared length is taken from the HTTP server
    // (which would buffer it whole) and streamed to the controller through
    // an UploadBody. The answer is written here and closes the connection.
    void streamUpload(QTcpSocket *socket, Connection &c, const Route *route, QHash<QString, QString> params, const QByteArray &target,
                      const QList<QByteArray> &headLines, qsizetype headLength, qint64 contentLength, bool expectContinue)
    {
        // Cut the HTTP server's reader (and screen()) off this socket; its
        // clean-up on disconnect stays.
        QObject::disconnect(socket, &QIODevice::readyRead, m_server.get(), nullptr);
        c.rejected = true; // nothing more for the HTTP server on this connection
        socket->skip(headLength);

        Request r;
        r.params = std::move(params);
        const qsizetype q = target.indexOf('?');
        if (q >= 0)
            r.query = QUrlQuery(QString::fromUtf8(target.mid(q + 1)));
        for (qsizetype i = 1; i < headLines.size(); ++i) {
            const QByteArray &line = headLines.at(i);
            const qsizetype colon = line.indexOf(':');
            if (colon > 0)
                r.headers.insert(line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed());
        }
        auto body = std::make_shared<UploadBody>(socket, contentLength);
        r.bodyStream = body;
        r.bodyStreamSize = contentLength;
        QElapsedTimer timer;
        timer.start();
        const QPointer<QTcpSocket> guard(socket);
        const QPointer<HttpAdapter> alive(m_q);
        const QString pattern = route->pattern;
        auto answer = [this, alive, guard, timer, pattern, body](const ApiResult &result) {
            if (!alive)
                return;
            const QHttpServerResponse response = toHttp(result);
            m_controller.metrics().recordRequest(QStringLiteral("PUT"), pattern, static_cast<int>(response.statusCode()),
                                                 timer.nsecsElapsed() / 1e9);
            if (!guard || guard->state() != QAbstractSocket::ConnectedState)
                return;
            writeRaw(guard, response);
            // An early answer (an error before the body was taken): the rest
            // of the declared body is read and dropped, then the connection
            // closes. Closing with unread input would reset it and could lose
            // the answer.
            QTcpSocket *client = guard.data();
            auto closeWhenDone = [client, body]() {
                body->skip(body->bytesAvailable());
                if (body->atEnd() && client->bytesToWrite() == 0)
                    client->disconnectFromHost();
            };
            QObject::connect(client, &QIODevice::readyRead, client, closeWhenDone);
            QObject::connect(client, &QIODevice::bytesWritten, client, closeWhenDone);
            closeWhenDone();
            QTimer::singleShot(kDrainTimeoutMs, client, [client]() { client->abort(); });
        };
        ApiFuture future = (m_controller.*(route->handler))(r);
        // Answered at once (unknown VM, bad path): the client that asked
        // first is told before it sends the body.
        if (expectContinue && contentLength > 0 && !future.isFinished())
            socket->write("HTTP/1.1 100 Continue\r\n\r\n");
        future.then([answer](const ApiResult &result) { answer(result); })
            .onCanceled([answer]() { answer(ApiError(ApiError::Code::Internal, QStringLiteral("the operation was abandoned"))); });
    }

    // A response written by hand (for connections taken from the HTTP server).
    static void writeRaw(QTcpSocket *socket, const QHttpServerResponse &response)
    {
        const int status = static_cast<int>(response.statusCode());
        QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
        out += "Content-Type: " + response.mimeType() + "\r\n";
        for (const QByteArray &value : response.headers(QByteArrayLiteral("WWW-Authenticate")))
            out += "WWW-Authenticate: " + value + "\r\n";
        out += "Content-Length: " + QByteArray::number(response.data().size()) + "\r\nConnection: close\r\n\r\n";
        out += response.data();
        socket->write(out);
    }

    static QByteArray reasonPhrase(int status)
    {
        switch (status) {
        case 200: return QByteArrayLiteral("OK");
        case 201: return QByteArrayLiteral("Created");
        case 400: return QByteArrayLiteral("Bad Request");
        case 401: return QByteArrayLiteral("Unauthorized");
        case 403: return QByteArrayLiteral("Forbidden");
        case 404: return QByteArrayLiteral("Not Found");
        case 409: return QByteArrayLiteral("Conflict");
        case 413: return QByteArrayLiteral("Payload Too Large");
        case 500: return QByteArrayLiteral("Internal Server Error");
        case 502: return QByteArrayLiteral("Bad Gateway");
        case 503: return QByteArrayLiteral("Service Unavailable");
        case 504: return QByteArrayLiteral("Gateway Timeout");
        case 507: return QByteArrayLiteral("Insufficient Storage");
        default: return QByteArrayLiteral("Status");
        }
    }

    // Answer now, discard whatever else the client sends, close soon.
    void reject(QTcpSocket *socket, Connection &c, const ApiError &error)
    {
        c.rejected = true;
        const QByteArray body = errorBody(error);
        const int status = static_cast<int>(httpStatus(error.code));
        const QByteArray reason = status == 413 ? QByteArrayLiteral("Payload Too Large")
                                  : status == 401 ? QByteArrayLiteral("Unauthorized")
                                                  : QByteArrayLiteral("Bad Request");
        const QByteArray challenge = status == 401 ? QByteArrayLiteral("WWW-Authenticate: Bearer realm=\"microvm-sandbox\"\r\n") : QByteArray();
        socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n" + challenge +
                      "Content-Type: application/json\r\n"
                      "Content-Length: " + QByteArray::number(body.size()) + "\r\n"
                      "Connection: close\r\n\r\n" + body);
        discardInput(socket);
        // Closing with unread input makes the kernel reset the connection,
        // which can lose the answer: keep reading (and dropping) a while.
        QTimer::singleShot(kRejectLingerMs, socket, [socket]() { socket->disconnectFromHost(); });
    }

    static void discardInput(QTcpSocket *socket)
    {
        if (socket->isTransactionStarted())
            socket->commitTransaction(); // nothing is kept for a rollback
        socket->skip(socket->bytesAvailable());
    }

    HttpAdapter *m_q;
    ApiController &m_controller;
    Options m_options;
    RequestAuth m_auth;
    Router m_router;
    QHash<QTcpSocket *, Connection> m_connections;
    std::unique_ptr<RawServer> m_server;
    QPointer<GateServer> m_tcp;
};

HttpAdapter::HttpAdapter(ApiController &controller, Options options, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>(this, controller, std::move(options)))
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
    return tcp->serverPort();
}

quint16 HttpAdapter::port() const
{
    return d->m_tcp ? d->m_tcp->serverPort() : 0;
}

QStringList HttpAdapter::routes() const
{
    QStringList out;
    for (const Route &r : d->m_router.routes())
        out << QString::fromLatin1(r.method) + QLatin1Char(' ') + QString(r.pattern).replace(QLatin1String("{*"), QLatin1String("{"));
    return out;
}

} // namespace Server
