#pragma once
// Failed authentication, counted per peer address: kMaxFailures in a window
// of kWindowMs and the peer's requests are refused (429, Retry-After) until
// that window ends, whatever they carry. The table is bounded (kMaxPeers);
// when full, finished windows go first, then the oldest. Pure: the caller
// passes the time.

#include <QHash>
#include <QString>

namespace Server {

class AuthRateLimiter {
public:
    static constexpr int kMaxFailures = 10;
    static constexpr qint64 kWindowMs = 60 * 1000;
    static constexpr int kMaxPeers = 4096;
    // MVS_AUTH_MAX_FAILURES (a positive number) replaces kMaxFailures: the
    // test suites that check many refusals from one loopback client set it.
    static constexpr const char *kMaxFailuresVariable = "MVS_AUTH_MAX_FAILURES";

    AuthRateLimiter();
    explicit AuthRateLimiter(int maxFailures);
    int maxFailures() const { return m_maxFailures; }

    // How long the peer must wait before it is heard again; 0: not blocked.
    qint64 blockedForMs(const QString &peer, qint64 nowMs) const;
    // A request from peer failed authentication.
    void failed(const QString &peer, qint64 nowMs);
    // True once per blocked window of a peer: the refusal to put in the
    // audit log (a flood of refused requests is one entry a minute).
    bool firstRefusal(const QString &peer, qint64 nowMs);
    int size() const { return int(m_peers.size()); }

private:
    struct Window {
        qint64 startMs = 0;
        int failures = 0;
        bool refusalReported = false;
    };
    void makeRoom(qint64 nowMs);

    int m_maxFailures;
    QHash<QString, Window> m_peers;
};

} // namespace Server
