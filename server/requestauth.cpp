#include "server/requestauth.h"

#include "server/auditlog.h"
#include "server/router.h"
#include "server/tokenregistry.h"
#include "server/tokenstore.h"

#include <QByteArrayList>
#include <QDateTime>

namespace Server {

RequestAuth::RequestAuth(QByteArray token, Clock clock)
    : m_ownTokens(std::make_unique<TokenRegistry>(QString(), QByteArray()))
    , m_tokens(m_ownTokens.get())
    , m_adminToken(std::move(token))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentMSecsSinceEpoch(); }))
{
}

RequestAuth::RequestAuth(TokenRegistry *tokens, QByteArray adminToken, Clock clock)
    : m_ownTokens(tokens ? nullptr : std::make_unique<TokenRegistry>(QString(), QByteArray()))
    , m_tokens(tokens ? tokens : m_ownTokens.get())
    , m_adminToken(std::move(adminToken))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentMSecsSinceEpoch(); }))
{
}

RequestAuth::~RequestAuth() = default;

std::optional<Principal> RequestAuth::secret(QByteArrayView secret) const
{
    if (secret.isEmpty())
        return std::nullopt;
    if (!m_adminToken.isEmpty() && TokenStore::equals(secret, m_adminToken))
        return Principal::admin();
    return m_tokens->authenticate(secret);
}

std::optional<Principal> RequestAuth::bearer(const QByteArray &authorizationHeader) const
{
    const QByteArray header = authorizationHeader.trimmed();
    static const QByteArray scheme = QByteArrayLiteral("bearer ");
    if (header.size() <= scheme.size() || header.left(scheme.size()).toLower() != scheme)
        return std::nullopt;
    return secret(header.mid(scheme.size()).trimmed());
}

bool RequestAuth::sameOrigin(const Headers &headers)
{
    if (!headers.origin.isEmpty() && headers.origin != "http://" + headers.host)
        return false;
    return headers.secFetchSite.isEmpty() || headers.secFetchSite == "same-origin" || headers.secFetchSite == "none";
}

std::optional<Principal> RequestAuth::sessionCookie(const Headers &headers, const QByteArray &wanted, ViewerSessions &sessions, const QString &vm) const
{
    if (!sameOrigin(headers) || headers.cookie.isEmpty())
        return std::nullopt;
    const qint64 now = m_clock();
    for (const QByteArray &pair : headers.cookie.split(';')) {
        const QByteArray p = pair.trimmed();
        const qsizetype eq = p.indexOf('=');
        QString tokenId;
        if (eq <= 0 || !p.startsWith(wanted) || !sessions.use(p.mid(eq + 1), vm, now, &tokenId))
            continue;
        // The token the session came from must still be valid.
        if (tokenId == Principal::kAdminTokenId && !m_adminToken.isEmpty())
            return Principal::admin();
        if (std::optional<Principal> holder = m_tokens->principal(tokenId))
            return holder;
    }
    return std::nullopt;
}

std::optional<Principal> RequestAuth::cookie(const Headers &headers, const QString &vm) const
{
    return sessionCookie(headers, vm.isEmpty() ? kViewerCookiePrefix : kViewerCookiePrefix + vm.toUtf8() + '=', m_sessions, vm);
}

std::optional<Principal> RequestAuth::docsCookie(const Headers &headers) const
{
    return sessionCookie(headers, kDocsCookie + '=', m_docsSessions, QString());
}

std::optional<Principal> RequestAuth::routeCookie(const RouteFlags &route, const Headers &headers, const QString &vm) const
{
    if (!route.cookieOk)
        return std::nullopt;
    return route.session == RouteFlags::Session::Docs ? docsCookie(headers) : cookie(headers, vm);
}

std::optional<Principal> RequestAuth::queryToken(const QString &token) const
{
    return secret(token.toUtf8());
}

QByteArray RequestAuth::setCookie(const QByteArray &name, const QByteArray &id)
{
    return name + '=' + id + "; Path=/; Max-Age=" + QByteArray::number(ViewerSessions::kMaxLifetimeMs / 1000) + "; HttpOnly; SameSite=Strict";
}

QByteArray RequestAuth::openViewerSession(const QString &vm, const Principal &caller)
{
    return setCookie(kViewerCookiePrefix + vm.toUtf8(), m_sessions.open(vm, m_clock(), caller.tokenId));
}

QByteArray RequestAuth::openDocsSession(const Principal &caller)
{
    return setCookie(kDocsCookie, m_docsSessions.open(QString(), m_clock(), caller.tokenId));
}

QByteArray RequestAuth::openSession(const RouteFlags &route, const QString &vm, const Principal &caller)
{
    return route.session == RouteFlags::Session::Docs ? openDocsSession(caller) : openViewerSession(vm, caller);
}

std::optional<ApiError> RequestAuth::authorize(const Principal &caller, const Route &route, const QString &vm)
{
    if (!route.needsAuth)
        return std::nullopt;
    const Role wanted = route.role == Role::Undecided ? Role::Admin : route.role;
    if (!caller.atLeast(wanted))
        return ApiError(ApiError::Code::Forbidden,
                        QStringLiteral("this needs a token with the %1 role (this one is %2)").arg(roleName(wanted), roleName(caller.role)));
    if (route.vmScoped() && !caller.mayUseVm(vm))
        return ApiError(ApiError::Code::Forbidden, QStringLiteral("this token may not use VM %1 (only %2)").arg(vm, caller.vmGlob));
    return std::nullopt;
}

RequestAuth::Decision RequestAuth::decide(const Route *route, const QString &vm, const Credentials &c)
{
    Decision d;
    const qint64 now = m_clock();
    const bool needsAuth = !route || route->needsAuth;
    if (const qint64 wait = m_limiter.blockedForMs(c.peer, now); wait > 0 && needsAuth) {
        ApiError e(ApiError::Code::TooManyRequests, QStringLiteral("too many failed authentications from %1: try again later").arg(c.peer));
        e.retryAfterS = int((wait + 999) / 1000);
        d.refusal = e;
        return d;
    }
    d.caller = bearer(c.authorization);
    if (!d.caller && route)
        d.caller = routeCookie(*route, c.cookieHeaders, vm);
    if (!d.caller && route && route->pageToken && (d.caller = queryToken(c.queryToken)))
        d.viaQueryToken = true;
    if (!d.caller && route && route->webSocket != RouteFlags::WebSocket::None)
        d.caller = queryToken(c.queryToken); // browsers cannot set headers on a WebSocket
    if (!needsAuth)
        return d;
    if (!d.caller) {
        m_limiter.failed(c.peer, now);
        d.refusal = ApiError(ApiError::Code::Unauthorized, QStringLiteral("a valid token is required: Authorization: Bearer <token>"));
        return d;
    }
    if (route)
        d.refusal = authorize(*d.caller, *route, vm);
    return d;
}

void RequestAuth::record(const std::optional<Principal> &caller, const Outcome &o) const
{
    if (!m_audit || !AuditLog::wanted(o.method, o.status, o.webSocket))
        return;
    if (o.status == 429 && !m_limiter.firstRefusal(o.peer, m_clock()))
        return; // a blocked peer's refusals: the first of its window only
    AuditLog::Entry e;
    e.time = QDateTime::fromMSecsSinceEpoch(m_clock()).toUTC();
    if (caller) {
        e.tokenId = caller->tokenId;
        e.role = roleName(caller->role);
    }
    e.method = o.method;
    e.route = o.route;
    e.vm = o.vm;
    e.status = o.status;
    e.peer = o.peer;
    e.requestId = o.requestId;
    if (auto ok = m_audit->append(e); !ok)
        qWarning("audit log: %s", qPrintable(ok.error().message));
}

} // namespace Server
