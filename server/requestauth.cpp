#include "server/requestauth.h"

#include "server/tokenstore.h"

#include <QByteArrayList>
#include <QDateTime>

namespace Server {

RequestAuth::RequestAuth(QByteArray token, Clock clock)
    : m_token(std::move(token))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentMSecsSinceEpoch(); }))
{
}

bool RequestAuth::bearer(const QByteArray &authorizationHeader) const
{
    if (m_token.isEmpty())
        return false;
    const QByteArray header = authorizationHeader.trimmed();
    static const QByteArray scheme = QByteArrayLiteral("bearer ");
    if (header.size() <= scheme.size() || header.left(scheme.size()).toLower() != scheme)
        return false;
    return TokenStore::equals(header.mid(scheme.size()).trimmed(), m_token);
}

bool RequestAuth::sameOrigin(const Headers &headers)
{
    if (!headers.origin.isEmpty() && headers.origin != "http://" + headers.host)
        return false;
    return headers.secFetchSite.isEmpty() || headers.secFetchSite == "same-origin" || headers.secFetchSite == "none";
}

bool RequestAuth::sessionCookie(const Headers &headers, const QByteArray &wanted, ViewerSessions &sessions, const QString &vm) const
{
    if (!sameOrigin(headers) || m_token.isEmpty() || headers.cookie.isEmpty())
        return false;
    const qint64 now = m_clock();
    for (const QByteArray &pair : headers.cookie.split(';')) {
        const QByteArray p = pair.trimmed();
        const qsizetype eq = p.indexOf('=');
        if (eq > 0 && p.startsWith(wanted) && sessions.use(p.mid(eq + 1), vm, now))
            return true;
    }
    return false;
}

bool RequestAuth::cookie(const Headers &headers, const QString &vm) const
{
    return sessionCookie(headers, vm.isEmpty() ? kViewerCookiePrefix : kViewerCookiePrefix + vm.toUtf8() + '=', m_sessions, vm);
}

bool RequestAuth::docsCookie(const Headers &headers) const
{
    return sessionCookie(headers, kDocsCookie + '=', m_docsSessions, QString());
}

bool RequestAuth::routeCookie(const RouteFlags &route, const Headers &headers, const QString &vm) const
{
    if (!route.cookieOk)
        return false;
    return route.session == RouteFlags::Session::Docs ? docsCookie(headers) : cookie(headers, vm);
}

bool RequestAuth::queryToken(const QString &token) const
{
    return !m_token.isEmpty() && !token.isEmpty() && TokenStore::equals(token.toUtf8(), m_token);
}

QByteArray RequestAuth::setCookie(const QByteArray &name, const QByteArray &id)
{
    return name + '=' + id + "; Path=/; Max-Age=" + QByteArray::number(ViewerSessions::kMaxLifetimeMs / 1000) + "; HttpOnly; SameSite=Strict";
}

QByteArray RequestAuth::openViewerSession(const QString &vm)
{
    return setCookie(kViewerCookiePrefix + vm.toUtf8(), m_sessions.open(vm, m_clock()));
}

QByteArray RequestAuth::openDocsSession()
{
    return setCookie(kDocsCookie, m_docsSessions.open(QString(), m_clock()));
}

QByteArray RequestAuth::openSession(const RouteFlags &route, const QString &vm)
{
    return route.session == RouteFlags::Session::Docs ? openDocsSession() : openViewerSession(vm);
}

} // namespace Server
