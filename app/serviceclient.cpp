#include "app/serviceclient.h"

#include "server/tokenstore.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrlQuery>

namespace App {

namespace {

constexpr int kUnreachableDetail = -1;

Core::ErrorCode codeForApiError(const QString &code)
{
    if (code == QLatin1String("not_found"))
        return Core::ErrorCode::NotFound;
    if (code == QLatin1String("already_exists"))
        return Core::ErrorCode::AlreadyExists;
    if (code == QLatin1String("invalid_argument") || code == QLatin1String("invalid_json") || code == QLatin1String("payload_too_large"))
        return Core::ErrorCode::InvalidArgument;
    if (code == QLatin1String("invalid_state") || code == QLatin1String("display_not_ready"))
        return Core::ErrorCode::InvalidState;
    if (code == QLatin1String("timeout"))
        return Core::ErrorCode::Timeout;
    if (code == QLatin1String("permission_denied") || code == QLatin1String("unauthorized"))
        return Core::ErrorCode::PermissionDenied;
    if (code == QLatin1String("agent_unavailable"))
        return Core::ErrorCode::AgentUnavailable;
    if (code == QLatin1String("guest_error"))
        return Core::ErrorCode::Agent;
    if (code == QLatin1String("vm_failed"))
        return Core::ErrorCode::VmmFailed;
    if (code == QLatin1String("no_space"))
        return Core::ErrorCode::NoSpace;
    if (code == QLatin1String("unsupported"))
        return Core::ErrorCode::Unsupported;
    if (code == QLatin1String("corrupted"))
        return Core::ErrorCode::Corrupted;
    if (code == QLatin1String("quota_exceeded"))
        return Core::ErrorCode::QuotaExceeded;
    return Core::ErrorCode::Internal;
}

} // namespace

ServiceClient::Endpoint ServiceClient::resolve(const QString &url, const QString &token)
{
    Endpoint e;
    QString u = url;
    if (u.isEmpty())
        u = qEnvironmentVariable("MVS_URL");
    if (u.isEmpty())
        u = QStringLiteral("http://127.0.0.1:8000");
    if (!u.contains(QLatin1String("://")))
        u.prepend(QStringLiteral("http://"));
    while (u.endsWith(QLatin1Char('/')))
        u.chop(1);
    e.url = QUrl(u);
    if (!token.isEmpty()) {
        e.token = token.toUtf8();
        e.tokenSource = QStringLiteral("--token");
    } else if (qEnvironmentVariableIsSet("MVS_TOKEN") && !qgetenv("MVS_TOKEN").isEmpty()) {
        e.token = qgetenv("MVS_TOKEN").trimmed();
        e.tokenSource = QStringLiteral("MVS_TOKEN");
    } else {
        const Server::TokenStore store;
        e.tokenSource = store.path();
        if (auto t = store.load())
            e.token = *t;
    }
    return e;
}

ServiceClient::ServiceClient(Endpoint endpoint, QObject *parent)
    : QObject(parent)
    , m_endpoint(std::move(endpoint))
{
}

ServiceClient::~ServiceClient() = default;

QString ServiceClient::vmPath(const QString &name, const QString &rest)
{
    QString p = QStringLiteral("/api/v1/vms/") + QString::fromLatin1(QUrl::toPercentEncoding(name));
    if (!rest.isEmpty())
        p += QLatin1Char('/') + rest;
    return p;
}

QString ServiceClient::filesPath(const QString &name, const QString &guestPath)
{
    return vmPath(name, QStringLiteral("files?path=")) + QString::fromLatin1(QUrl::toPercentEncoding(guestPath));
}

QString ServiceClient::snapshotPath(const QString &name, const QString &snapshot, const QString &rest)
{
    QString p = vmPath(name, QStringLiteral("snapshots"));
    if (!snapshot.isEmpty())
        p += QLatin1Char('/') + QString::fromLatin1(QUrl::toPercentEncoding(snapshot));
    if (!rest.isEmpty())
        p += QLatin1Char('/') + rest;
    return p;
}

bool ServiceClient::isUnreachable(const Core::Error &error)
{
    return error.code == Core::ErrorCode::Io && error.detail == kUnreachableDetail;
}

Core::Future<QByteArray> ServiceClient::send(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &contentType,
                                             int timeoutMs, qint64 maxBytes)
{
    QUrl url = m_endpoint.url;
    const qsizetype q = path.indexOf(QLatin1Char('?'));
    url.setPath(url.path() + (q < 0 ? path : path.left(q)), QUrl::TolerantMode);
    if (q >= 0)
        url.setQuery(path.mid(q + 1), QUrl::StrictMode);
    QNetworkRequest req(url);
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    req.setTransferTimeout(timeoutMs);
    if (!m_endpoint.token.isEmpty())
        req.setRawHeader("Authorization", QByteArrayLiteral("Bearer ") + m_endpoint.token);
    if (!contentType.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    QNetworkReply *reply = m_nam.sendCustomRequest(req, method, body);
    Core::Promise<QByteArray> promise;
    const Endpoint endpoint = m_endpoint;
    if (maxBytes > 0)
        refuseAbove(reply, maxBytes, promise);
    connect(reply, &QNetworkReply::finished, this, [reply, promise, endpoint]() {
        reply->deleteLater();
        if (promise.isResolved())
            return; // refused as too large
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray data = reply->readAll();
        const QString where = endpoint.url.toString();
        if (status == 0) {
            switch (reply->error()) {
            case QNetworkReply::ConnectionRefusedError:
            case QNetworkReply::HostNotFoundError:
            case QNetworkReply::RemoteHostClosedError:
                promise.resolve(Core::Error(Core::ErrorCode::Io,
                                            QStringLiteral("no service answers at %1 (start it with `microvm-sandbox --serve`, "
                                                           "or point --url/MVS_URL at it)")
                                                .arg(where),
                                            kUnreachableDetail));
                return;
            case QNetworkReply::OperationCanceledError:
            case QNetworkReply::TimeoutError:
                promise.fail(Core::ErrorCode::Timeout, QStringLiteral("the service at %1 did not answer in time").arg(where));
                return;
            default: promise.fail(Core::ErrorCode::Io, QStringLiteral("cannot reach the service at %1: %2").arg(where, reply->errorString())); return;
            }
        }
        if (status == 401) {
            promise.fail(Core::ErrorCode::PermissionDenied,
                         endpoint.token.isEmpty()
                             ? QStringLiteral("the service wants a token (401): none found in %1; pass --token or set MVS_TOKEN").arg(endpoint.tokenSource)
                             : QStringLiteral("the service refused the token from %1 (401): use the one the service printed "
                                              "on first start, kept in %2 (or pass --token / MVS_TOKEN)")
                                   .arg(endpoint.tokenSource, Server::TokenStore::defaultPath()));
            return;
        }
        if (status >= 400) {
            const QJsonObject err = QJsonDocument::fromJson(data).object().value(QStringLiteral("error")).toObject();
            const QString message = err.value(QStringLiteral("message")).toString();
            promise.fail(codeForApiError(err.value(QStringLiteral("code")).toString()),
                         message.isEmpty() ? QStringLiteral("the service answered HTTP %1").arg(status) : message);
            return;
        }
        promise.resolve(data);
    });
    return promise.future();
}

Core::Future<QJsonObject> ServiceClient::sendJson(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &contentType,
                                                  int timeoutMs)
{
    Core::Promise<QJsonObject> promise;
    send(method, path, body, contentType, timeoutMs).then(this, [promise](const Core::Expected<QByteArray> &r) {
        if (!r) {
            promise.resolve(r.error());
            return;
        }
        if (r->isEmpty()) { // 204 No Content
            promise.resolve(QJsonObject());
            return;
        }
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(*r, &pe);
        if (!doc.isObject()) {
            promise.fail(Core::ErrorCode::Protocol, QStringLiteral("the service answered something that is not a JSON object"));
            return;
        }
        promise.resolve(doc.object());
    });
    return promise.future();
}

Core::Future<QJsonObject> ServiceClient::getJson(const QString &path, int timeoutMs)
{
    return sendJson("GET", path, QByteArray(), QByteArray(), timeoutMs);
}

Core::Future<QJsonObject> ServiceClient::postJson(const QString &path, const QJsonObject &body, int timeoutMs)
{
    return sendJson("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact), QByteArrayLiteral("application/json"), timeoutMs);
}

Core::Future<QJsonObject> ServiceClient::patchJson(const QString &path, const QJsonObject &body, int timeoutMs)
{
    return sendJson("PATCH", path, QJsonDocument(body).toJson(QJsonDocument::Compact), QByteArrayLiteral("application/json"), timeoutMs);
}

Core::Future<QJsonObject> ServiceClient::putJson(const QString &path, const QJsonObject &body, int timeoutMs)
{
    return sendJson("PUT", path, QJsonDocument(body).toJson(QJsonDocument::Compact), QByteArrayLiteral("application/json"), timeoutMs);
}

Core::Future<QJsonObject> ServiceClient::deleteJson(const QString &path, int timeoutMs)
{
    return sendJson("DELETE", path, QByteArray(), QByteArray(), timeoutMs);
}

Core::Future<QByteArray> ServiceClient::getBytes(const QString &path, int timeoutMs, qint64 maxBytes)
{
    return send("GET", path, QByteArray(), QByteArray(), timeoutMs, maxBytes);
}

void ServiceClient::refuseAbove(QNetworkReply *reply, qint64 maxBytes, Core::Promise<QByteArray> promise)
{
    connect(reply, &QNetworkReply::downloadProgress, reply, [reply, maxBytes, promise](qint64 received, qint64 total) {
        if (promise.isResolved() || (total <= maxBytes && received <= maxBytes))
            return;
        promise.resolve(Core::Error(Core::ErrorCode::InvalidArgument,
                                    QStringLiteral("the answer is %1 bytes, above the %2-byte limit here").arg(qMax(total, received)).arg(maxBytes),
                                    kTooLargeDetail));
        reply->abort();
    });
}

Core::Future<QJsonObject> ServiceClient::putBytes(const QString &path, const QByteArray &body, int timeoutMs)
{
    return sendJson("PUT", path, body, QByteArrayLiteral("application/octet-stream"), timeoutMs);
}

} // namespace App
