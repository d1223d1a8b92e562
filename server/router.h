#pragma once
// The route table of the service, pure: patterns with {param} segments and a
// last {*rest} segment, matched against a request's method and path. No HTTP
// types: the adapter turns what it finds into answers (404, 405 + Allow).
// Each controller adds its own routes, their flags declared with them, the
// least role a caller needs among them (tst_routeroles fails on a route
// without one; the adapter lets only admins through such a route):
//   router.add("GET", "/vnc/{name}", this, &DisplayController::viewerPage, {.role = Role::Viewer, .pageToken = true, .cookieOk = true});
// A route with a {name} parameter is about that VM: a token restricted to
// other VMs is refused there (RequestAuth::authorize).

#include "server/apitypes.h"
#include "server/principal.h"

#include <QByteArrayList>
#include <QHash>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

namespace Server {

using Handler = std::function<ApiFuture(const Request &)>;

// How a route is reached, declared where it is added.
struct RouteFlags {
    enum class Body { Json, File };
    // A WebSocket endpoint (GET with an Upgrade: websocket only) and what it streams.
    enum class WebSocket { None, Exec, Vnc, Events };
    bool needsAuth = true;
    Role role = Role::Undecided; // the least role that may use it
    WebSocket webSocket = WebSocket::None;
    bool pageToken = false; // a browser page: ?token= accepted, answered with the session cookie
    bool cookieOk = false; // the viewer's session cookie is accepted (same-origin requests only)
    // Whose session pageToken opens and cookieOk takes: a VM viewer's (the
    // VM named in the path; none: any VM's) or the API docs page's (/docs).
    enum class Session { Viewer, Docs };
    Session session = Session::Viewer;
    Body body = Body::Json; // File: an upload, streamed and capped as such
};

struct Route : RouteFlags {
    QByteArray method;
    QString pattern;
    QStringList segments;
    Handler handler; // empty for WebSocket endpoints

    // The route names a VM ({name}): its callers must be allowed that VM.
    bool vmScoped() const { return segments.contains(QLatin1String("{name}")); }

    // Whether `path` (decoded segments, see Router::pathSegments) fits the
    // pattern; its parameters go to *params.
    bool match(const QStringList &path, QHash<QString, QString> *params) const;
};

class Router {
public:
    struct Match {
        const Route *route = nullptr; // the route for the method and path
        QHash<QString, QString> params; // its parameters
        QByteArrayList allowed; // no route for the method: the methods the path has (405), empty for 404
    };

    // Adds a route; the reference stays valid until the next add().
    Route &add(const QByteArray &method, const QString &pattern, Handler handler = {}, RouteFlags flags = {});
    // A controller's member function as the handler.
    template<typename C>
    Route &add(const QByteArray &method, const QString &pattern, C *controller, ApiFuture (C::*fn)(const Request &), RouteFlags flags = {})
    {
        return add(
            method, pattern, [controller, fn](const Request &r) { return (controller->*fn)(r); }, flags);
    }
    Match find(const QByteArray &method, const QStringList &path) const;
    const std::vector<Route> &routes() const { return m_routes; }

    // Path segments of an encoded path, each percent-decoded on its own (so
    // an encoded '/' stays inside its segment).
    static QStringList pathSegments(const QByteArray &encodedPath);

private:
    std::vector<Route> m_routes;
};

} // namespace Server
