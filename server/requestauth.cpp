#include "server/requestauth.h"

#include "server/tokenstore.h"

#include <QByteArrayList>

namespace Server {

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

bool RequestAuth::cookie(const Headers &headers) const
{
    if (!headers.origin.isEmpty() && headers.origin != "http://" + headers.host)
        return false;
    if (!headers.secFetchSite.isEmpty() && headers.secFetchSite != "same-origin" && headers.secFetchSite != "none")
        return false;
    if (m_token.isEmpty() || headers.cookie.isEmpty())
        return false;
    for (const QByteArray &pair : headers.cookie.split(';')) {
        const QByteArray p = pair.trimmed();
        if (p.startsWith(QByteArray(kSessionCookie + '=')) && TokenStore::equals(p.mid(kSessionCookie.size() + 1), m_token))
            return true;
    }
    return false;
}

bool RequestAuth::queryToken(const QString &token) const
{
    return !m_token.isEmpty() && !token.isEmpty() && TokenStore::equals(token.toUtf8(), m_token);
}

QByteArray RequestAuth::sessionCookie() const
{
    return QByteArray(kSessionCookie + '=' + m_token + "; Path=/; HttpOnly; SameSite=Strict");
}

} // namespace Server
