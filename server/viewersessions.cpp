#include "server/viewersessions.h"

#include "server/tokenstore.h"

#include <QRandomGenerator>

namespace Server {

bool ViewerSessions::expired(const Session &s, qint64 nowMs)
{
    return nowMs - s.lastUsedMs > kIdleLifetimeMs || nowMs - s.openedMs > kMaxLifetimeMs;
}

void ViewerSessions::dropExpired(qint64 nowMs)
{
    m_sessions.removeIf([nowMs](const auto &it) { return expired(it.value(), nowMs); });
}

void ViewerSessions::dropOldest()
{
    auto oldest = m_sessions.begin();
    for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it)
        if (it->openedMs < oldest->openedMs)
            oldest = it;
    if (oldest != m_sessions.end())
        m_sessions.erase(oldest);
}

QByteArray ViewerSessions::open(const QString &vm, qint64 nowMs, const QString &tokenId)
{
    dropExpired(nowMs);
    while (m_sessions.size() >= kMaxSessions)
        dropOldest();
    QByteArray raw(kIdBytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(raw.data()), kIdBytes / int(sizeof(quint32)));
    const QByteArray id = raw.toHex();
    m_sessions.insert(id, Session{vm, tokenId, nowMs, nowMs});
    return id;
}

bool ViewerSessions::use(const QByteArray &id, const QString &vm, qint64 nowMs, QString *tokenId)
{
    // Looked up by hash, then compared in constant time.
    auto it = m_sessions.find(id);
    if (it == m_sessions.end() || !TokenStore::equals(it.key(), id))
        return false;
    if (expired(*it, nowMs)) {
        m_sessions.erase(it);
        return false;
    }
    if (!vm.isEmpty() && it->vm != vm)
        return false;
    it->lastUsedMs = nowMs;
    if (tokenId)
        *tokenId = it->tokenId;
    return true;
}

void ViewerSessions::dropToken(const QString &tokenId)
{
    m_sessions.removeIf([&tokenId](const auto &it) { return it.value().tokenId == tokenId; });
}

} // namespace Server
