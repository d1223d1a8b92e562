#include "server/authratelimiter.h"

namespace Server {

AuthRateLimiter::AuthRateLimiter()
    : AuthRateLimiter([] {
        bool ok = false;
        const int n = qEnvironmentVariableIntValue(kMaxFailuresVariable, &ok);
        return ok && n > 0 ? n : kMaxFailures;
    }())
{
}

AuthRateLimiter::AuthRateLimiter(int maxFailures)
    : m_maxFailures(maxFailures > 0 ? maxFailures : kMaxFailures)
{
}

qint64 AuthRateLimiter::blockedForMs(const QString &peer, qint64 nowMs) const
{
    const auto it = m_peers.constFind(peer);
    if (it == m_peers.cend() || it->failures < m_maxFailures)
        return 0;
    return qMax<qint64>(0, it->startMs + kWindowMs - nowMs);
}

void AuthRateLimiter::failed(const QString &peer, qint64 nowMs)
{
    auto it = m_peers.find(peer);
    if (it == m_peers.end()) {
        makeRoom(nowMs);
        it = m_peers.insert(peer, Window{nowMs, 0});
    } else if (nowMs - it->startMs >= kWindowMs) {
        *it = Window{nowMs, 0};
    }
    ++it->failures;
}

bool AuthRateLimiter::firstRefusal(const QString &peer, qint64 nowMs)
{
    auto it = m_peers.find(peer);
    if (it == m_peers.end() || blockedForMs(peer, nowMs) == 0 || it->refusalReported)
        return false;
    it->refusalReported = true;
    return true;
}

void AuthRateLimiter::makeRoom(qint64 nowMs)
{
    if (m_peers.size() < kMaxPeers)
        return;
    for (auto it = m_peers.begin(); it != m_peers.end();)
        it = nowMs - it->startMs >= kWindowMs ? m_peers.erase(it) : std::next(it);
    if (m_peers.size() < kMaxPeers)
        return;
    auto oldest = m_peers.begin();
    for (auto it = m_peers.begin(); it != m_peers.end(); ++it) {
        if (it->startMs < oldest->startMs)
            oldest = it;
    }
    m_peers.erase(oldest);
}

} // namespace Server
