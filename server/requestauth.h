#pragma once
// Who may make a request: the bearer token, a viewer session's cookie
// (same-origin requests to that VM's display only) and, for browser pages
// and WebSockets, a ?token= query. The adapter hands in header values; the
// time comes from a clock tests can set.

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

private:
    QByteArray m_token;
    Clock m_clock;
    mutable ViewerSessions m_sessions; // a use keeps a session alive
};

} // namespace Server
