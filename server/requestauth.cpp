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

bool RequestAuth::cookie(const Headers &headers, const QString &vm) const
{
    if (!headers.origin.isEmpty() && headers.origin != "http://" + headers.host)
        return false;
    if (!headers.secFetchSite.isEmpty() && headers.secFetchSite != "same-origin" && headers.secFetchSite != "none")
        return false;
    if (m_token.isEmpty() || headers.cookie.isEmpty())
        return false;
    const QByteArray wanted = vm.isEmpty() ? kViewerCookiePrefix : kViewerCookiePrefix + vm.toUtf8() + '=';
    const qint64 now = m_clock();
    for (const QByteArray &pair : headers.cookie.split(';')) {
        const QByteArray p = pair.trimmed();
        const qsizetype eq = p.indexOf('=');
        if (eq > 0 && p.startsWith(wanted) && m_sessions.use(p.mid(eq + 1), vm, now))
            return true;
    }
    return false;
}

bool RequestAuth::queryToken(const QString &token) const
{
    return !m_token.isEmpty() && !token.isEmpty() && TokenStore::equals(token.toUtf8(), m_token);
}

QByteArray RequestAuth::openViewerSession(const QString &vm)
{
    const QByteArray id = m_sessions.open(vm, m_clock());
    return kViewerCookiePrefix + vm.toUtf8() + '=' + id + "; Path=/; Max-Age=" + QByteArray::number(ViewerSessions::kMaxLifetimeMs / 1000)
        + "; HttpOnly; SameSite=Strict";
}

} // namespace Server
