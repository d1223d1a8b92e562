#pragma once
// Who may make a request: the bearer token, the viewer's session cookie
// (same-origin requests only) and, for browser pages and WebSockets, a
// ?token= query. Pure: the adapter hands in header values.

#include <QByteArray>
#include <QString>

namespace Server {

class RequestAuth {
public:
    // The cookie the viewer page sets (HttpOnly, SameSite=Strict).
    static inline const QByteArray kSessionCookie = QByteArrayLiteral("mvs_token");

    // What a request says about itself, for the cookie check.
    struct Headers {
        QByteArray origin;
        QByteArray host;
        QByteArray secFetchSite;
        QByteArray cookie;
    };

    // An empty token authorizes nothing: the service is never open by accident.
    explicit RequestAuth(QByteArray token)
        : m_token(std::move(token))
    {
    }

    // "Authorization: Bearer <token>" (scheme case-insensitive).
    bool bearer(const QByteArray &authorizationHeader) const;
    // The session cookie, only from this origin: another page on this host
    // (any port is the same "site" to SameSite) must not ride on it.
    // Browsers send Origin on WebSocket upgrades, POSTs and module scripts,
    // and Sec-Fetch-Site on all.
    bool cookie(const Headers &headers) const;
    // ?token=<token>, already decoded.
    bool queryToken(const QString &token) const;
    // The Set-Cookie value that starts a viewer session.
    QByteArray sessionCookie() const;

private:
    QByteArray m_token;
};

} // namespace Server
