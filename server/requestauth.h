#pragma once
// Who may make a request, and may they: the bearer token (the admin token or
// a scoped one, TokenRegistry), a viewer session's cookie (same-origin
// requests to that VM's display only), the docs page's session cookie
// (same-origin requests to /docs and the OpenAPI document only) and, for
// browser pages and WebSockets, a ?token= query; then the route's role and VM
// scope (authorize()), and the per-peer limit on failed authentication
// (AuthRateLimiter). Every answer is offered to record(), which writes what
// the audit log wants. The adapter hands in header values; the time comes
// from a clock tests can set.

#include "server/apitypes.h"
#include "server/authratelimiter.h"
#include "server/principal.h"
#include "server/router.h"
#include "server/viewersessions.h"

#include <QByteArray>
#include <QString>

#include <functional>
#include <memory>
#include <optional>

namespace Server {

class AuditLog;
class TokenRegistry;
struct Route;

class RequestAuth {
    Q_DISABLE_COPY_MOVE(RequestAuth)
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
    // All a request offers as credentials, and where it comes from.
    struct Credentials {
        QByteArray authorization;
        Headers cookieHeaders;
        QString queryToken; // decoded
        QString peer; // the client's address
    };
    // Who the caller is (if anyone), and why the request is refused (if it is).
    struct Decision {
        std::optional<Principal> caller;
        bool viaQueryToken = false; // a page opened with ?token=: answered with a session cookie
        std::optional<ApiError> refusal; // 401, 403 or 429
    };

    // Only `token` (empty: nobody) as the admin token: the service is never
    // open by accident.
    explicit RequestAuth(QByteArray token, Clock clock = {});
    // The registry's tokens (nullptr: none), and adminToken (may be empty) as well.
    RequestAuth(TokenRegistry *tokens, QByteArray adminToken, Clock clock = {});
    ~RequestAuth();

    // "Authorization: Bearer <token>" (scheme case-insensitive).
    std::optional<Principal> bearer(const QByteArray &authorizationHeader) const;
    // A viewer session's cookie for vm (an empty vm: any VM's, for the
    // viewer's shared assets), only from this origin: another page on this
    // host (any port is the same "site" to SameSite) must not ride on it.
    // Browsers send Origin on WebSocket upgrades, POSTs and module scripts,
    // and Sec-Fetch-Site on all. The session's token must still be valid.
    std::optional<Principal> cookie(const Headers &headers, const QString &vm) const;
    // ?token=<token>, already decoded.
    std::optional<Principal> queryToken(const QString &token) const;
    // A new viewer session for vm, on behalf of caller: the Set-Cookie value
    // that carries it.
    QByteArray openViewerSession(const QString &vm, const Principal &caller = Principal::admin());
    // The docs page's session cookie, from this origin only (as cookie()).
    std::optional<Principal> docsCookie(const Headers &headers) const;
    // A new docs page session on behalf of caller: the Set-Cookie value that carries it.
    QByteArray openDocsSession(const Principal &caller = Principal::admin());
    // The session cookie a route takes (RouteFlags::cookieOk) of its kind;
    // vm: the VM its path names, if any.
    std::optional<Principal> routeCookie(const RouteFlags &route, const Headers &headers, const QString &vm) const;
    // A new session of the route's kind (RouteFlags::pageToken): its Set-Cookie value.
    QByteArray openSession(const RouteFlags &route, const QString &vm, const Principal &caller = Principal::admin());
    // The sessions made from a revoked token end.
    void tokenRevoked(const QString &tokenId)
    {
        m_sessions.dropToken(tokenId);
        m_docsSessions.dropToken(tokenId);
    }

    // Whether caller may use route on vm (the {name} parameter, may be
    // empty): the route's role (an undecided one: admins only) and the
    // caller's VM glob. A refusal is a 403.
    static std::optional<ApiError> authorize(const Principal &caller, const Route &route, const QString &vm);
    // The whole decision for a request to route (nullptr: no such route,
    // which still wants a credential). A failed authentication counts
    // against the peer; a peer over its limit is refused (429) first.
    Decision decide(const Route *route, const QString &vm, const Credentials &credentials);

    // Where record() writes; nullptr (the default): nowhere.
    void setAuditLog(AuditLog *log) { m_audit = log; }
    struct Outcome {
        QString method;
        QString route; // the pattern, "unmatched" for none
        QString vm;
        int status = 0;
        QString peer;
        QString requestId;
        bool webSocket = false;
    };
    // An answered request, into the audit log if it wants it.
    void record(const std::optional<Principal> &caller, const Outcome &outcome) const;

    TokenRegistry &tokens() const { return *m_tokens; }

private:
    std::optional<Principal> secret(QByteArrayView secret) const;
    static bool sameOrigin(const Headers &headers);
    // A cookie whose "name=" starts with `wanted`, holding a live session
    // for vm in `sessions` whose token is still valid, from this origin.
    std::optional<Principal> sessionCookie(const Headers &headers, const QByteArray &wanted, ViewerSessions &sessions, const QString &vm) const;
    static QByteArray setCookie(const QByteArray &name, const QByteArray &id);

    std::unique_ptr<TokenRegistry> m_ownTokens; // with the first constructor
    TokenRegistry *m_tokens;
    QByteArray m_adminToken;
    Clock m_clock;
    mutable ViewerSessions m_sessions; // a use keeps a session alive
    mutable ViewerSessions m_docsSessions; // the docs page's: no VM
    mutable AuthRateLimiter m_limiter; // record() marks a peer's first refusal
    AuditLog *m_audit = nullptr;
};

} // namespace Server
