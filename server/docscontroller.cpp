#include "server/docscontroller.h"

#include "server/router.h"

#include <QFile>
#include <QHash>

namespace Server {

namespace {

// The files the page loads (its whole set: nothing else is served).
const QHash<QString, QByteArray> &assets()
{
    static const QHash<QString, QByteArray> files{
        {QStringLiteral("docs.js"), QByteArrayLiteral("text/javascript; charset=utf-8")},
        {QStringLiteral("swagger-ui/swagger-ui-bundle.js"), QByteArrayLiteral("text/javascript; charset=utf-8")},
        {QStringLiteral("swagger-ui/swagger-ui.css"), QByteArrayLiteral("text/css; charset=utf-8")},
        {QStringLiteral("swagger-ui/LICENSE"), QByteArrayLiteral("text/plain; charset=utf-8")},
        {QStringLiteral("swagger-ui/NOTICE"), QByteArrayLiteral("text/plain; charset=utf-8")},
        {QStringLiteral("swagger-ui/VERSION"), QByteArrayLiteral("text/plain; charset=utf-8")},
    };
    return files;
}

} // namespace

DocsController::DocsController(QObject *parent)
    : QObject(parent)
{
}

void DocsController::addRoutes(Router &router)
{
    using C = DocsController;
    using Session = RouteFlags::Session;
    router.add("GET", QStringLiteral("/docs"), this, &C::page, {.role = Role::Viewer, .pageToken = true, .cookieOk = true, .session = Session::Docs});
    router.add("GET", QStringLiteral("/docs/{*path}"), this, &C::asset, {.role = Role::Viewer, .cookieOk = true, .session = Session::Docs});
}

ApiResult DocsController::resource(const QString &path, const QByteArray &contentType, const QByteArray &cacheControl)
{
    QFile file(QStringLiteral(":/server/docs/") + path);
    if (!file.open(QIODevice::ReadOnly))
        return ApiError(ApiError::Code::Internal, QStringLiteral("%1 is missing from the build").arg(path));
    Response r = Response::ofBytes(file.readAll(), contentType);
    r.headers.append({QByteArrayLiteral("Content-Security-Policy"), QByteArray(kContentSecurityPolicy)});
    r.headers.append({QByteArrayLiteral("X-Content-Type-Options"), QByteArrayLiteral("nosniff")});
    r.headers.append({QByteArrayLiteral("Referrer-Policy"), QByteArrayLiteral("no-referrer")});
    r.headers.append({QByteArrayLiteral("Cache-Control"), cacheControl});
    return r;
}

ApiFuture DocsController::page(const Request &)
{
    return finished(resource(QStringLiteral("index.html"), QByteArrayLiteral("text/html; charset=utf-8"), QByteArrayLiteral("no-store")));
}

ApiFuture DocsController::asset(const Request &request)
{
    const QString path = request.param(QStringLiteral("path"));
    const auto it = assets().constFind(path);
    if (it == assets().constEnd())
        return finished(ApiError(ApiError::Code::NotFound, QStringLiteral("no docs file %1").arg(path)));
    return finished(resource(path, *it, QByteArrayLiteral("private, max-age=3600")));
}

} // namespace Server
