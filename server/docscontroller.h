#pragma once
// The API docs in the browser: GET /docs is Swagger UI (vendored from npm's
// swagger-ui-dist, server/resources/docs/swagger-ui/VERSION) over the service's
// own OpenAPI document, GET /docs/{*path} its files, all built into the
// binary. Opened once with ?token=, the page lives on a docs session cookie
// that opens only the page, its files and the document; its try-it-out
// requests carry the token the user types into "Authorize", as a Bearer
// header, never a cookie. A strict Content-Security-Policy: scripts, styles
// and requests from this origin only.

#include "server/apitypes.h"

namespace Server {

class Router;

class DocsController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DocsController)
public:
    static constexpr auto kContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                                   "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                                   "frame-ancestors 'none'";

    explicit DocsController(QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture page(const Request &request);
    ApiFuture asset(const Request &request);

private:
    // A file built into the binary, with the docs' security headers.
    static ApiResult resource(const QString &path, const QByteArray &contentType, const QByteArray &cacheControl);
};

} // namespace Server
