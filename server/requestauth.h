#pragma once
// Who may make a request: the bearer token, a viewer session's cookie
// (same-origin requests to that VM's display only), the docs page's session
// cookie (same-origin requests to /docs and the OpenAPI document only) and,
// for browser pages and WebSockets, a ?token= query. The adapter hands in header values; the
// time comes from a clock tests can set.

#include "server/router.h"
#include "server/viewersessions.h"

#include <QByteArray>
#include <QString>

#include <functional>

namespace Server {

class RequestAuth {
public:
    // The viewer page's cookie for VM <name> is mvs_view_<name> (HttpOnly,
    // SameSite=Strict): one per VM, so tabs on several VMs coexist.
    static inline const QByteArray kViewerCookiePrefix = QByteArrayLiteral("mvs_view_");
    // The API docs page's cookie (HttpOnly, SameSite=Strict): sessions of
    // their own, which open the page, its files and the OpenAPI document,
    // never the API (its try-it-out requests carry the token themselves).
    static inline const QByteArray kDocsCookie = QByteArrayLiteral("mvs_docs");
    using Clock = std::function<qint64()>; // ms since the epoch

    // What a request says about itself, for the cookie check.
    struct Headers {
        QByteArray origin;
        QByteArray host;
        QByteArray secFetchSite;
        QByteArray cookie;
    };

    // An empty token authorizes nothing: the service is never open by accident.
    explicit RequestAuth(QByteArray token, Clock clock = {});

    // "Authorization: Bearer <token>" (scheme case-insensitive).
    bool bearer(const QByteArray &authorizationHeader) const;
    // A viewer session's cookie for vm (an empty vm: any VM's, for the
    // viewer's shared assets), only from this origin: another page on this
    // host (any port is the same "site" to SameSite) must not ride on it.
    // Browsers send Origin on WebSocket upgrades, POSTs and module scripts,
    // and Sec-Fetch-Site on all.
    bool cookie(const Headers &headers, const QString &vm) const;
    // ?token=<token>, already decoded.
    bool queryToken(const QString &token) const;
    // A new viewer session for vm: the Set-Cookie value that carries it.
    QByteArray openViewerSession(const QString &vm);
    // The docs page's session cookie, from this origin only (as cookie()).
    bool docsCookie(const Headers &headers) const;
    // A new docs page session: the Set-Cookie value that carries it.
    QByteArray openDocsSession();

    // The session cookie a route takes (RouteFlags::cookieOk) of its kind;
    // vm: the VM its path names, if any.
    bool routeCookie(const RouteFlags &route, const Headers &headers, const QString &vm) const;
    // A new session of the route's kind (RouteFlags::pageToken): its Set-Cookie value.
    QByteArray openSession(const RouteFlags &route, const QString &vm);

private:
    static bool sameOrigin(const Headers &headers);
    // A cookie whose "name=" starts with `wanted`, holding a live session
    // for vm in `sessions`, from this origin.
    bool sessionCookie(const Headers &headers, const QByteArray &wanted, ViewerSessions &sessions, const QString &vm) const;
    static QByteArray setCookie(const QByteArray &name, const QByteArray &id);

    QByteArray m_token;
    Clock m_clock;
    mutable ViewerSessions m_sessions; // a use keeps a session alive
    mutable ViewerSessions m_docsSessions; // the docs page's: no VM
};

} // namespace Server
