#pragma once
// The route table of the service, pure: patterns with {param} segments and a
// last {*rest} segment, matched against a request's method and path. No HTTP
// types: the adapter turns what it finds into answers (404, 405 + Allow).

#include "server/apicontroller.h"

#include <QByteArrayList>
#include <QHash>
#include <QString>
#include <QStringList>

#include <vector>

namespace Server {

struct Route {
    enum class Body { Json, File };
    QByteArray method;
    QString pattern;
    QStringList segments;
    bool needsAuth = true;
    bool webSocket = false; // GET with an Upgrade: websocket only
    bool pageToken = false; // a browser page: ?token= accepted, answered with the session cookie
    bool cookieOk = false;  // the viewer's session cookie is accepted (same-origin requests only)
    Body body = Body::Json;
    ApiController::Handler handler = nullptr;

    // Whether `path` (decoded segments, see Router::pathSegments) fits the
    // pattern; its parameters go to *params.
    bool match(const QStringList &path, QHash<QString, QString> *params) const;
};

class Router {
public:
    struct Match {
        const Route *route = nullptr;   // the route for the method and path
        QHash<QString, QString> params; // its parameters
        QByteArrayList allowed;         // no route for the method: the methods the path has (405), empty for 404
    };

    // Adds a route; the reference stays valid until the next add().
    Route &add(const QByteArray &method, const QString &pattern, ApiController::Handler handler = nullptr);
    Match find(const QByteArray &method, const QStringList &path) const;
    const std::vector<Route> &routes() const { return m_routes; }

    // Path segments of an encoded path, each percent-decoded on its own (so
    // an encoded '/' stays inside its segment).
    static QStringList pathSegments(const QByteArray &encodedPath);

private:
    std::vector<Route> m_routes;
};

} // namespace Server
