#pragma once
// The viewer's sessions: what a browser tab opened with ?token= gets instead
// of the token. Each session is a random id for one VM's display only, short
// lived (idle and absolute limits), and the table is bounded. Cookies ignore
// ports, so anything served on this host name may see a session id; it
// opens one VM's viewer for a while, never the API. Pure: the caller passes
// the time.

#include <QByteArray>
#include <QHash>
#include <QString>

namespace Server {

class ViewerSessions {
public:
    static constexpr qint64 kIdleLifetimeMs = qint64(60) * 60 * 1000; // unused for an hour: gone
    static constexpr qint64 kMaxLifetimeMs = qint64(12) * 60 * 60 * 1000; // whatever the use
    static constexpr int kMaxSessions = 256; // the oldest goes first
    static constexpr int kIdBytes = 32;

    // A new session for vm's display, made from the token tokenId; its id (hex).
    QByteArray open(const QString &vm, qint64 nowMs, const QString &tokenId = QString());
    // The session exists, is alive, and is for vm (an empty vm: any VM's,
    // for the viewer's shared assets). A valid use keeps it from idling out;
    // *tokenId is then the token it was made from.
    bool use(const QByteArray &id, const QString &vm, qint64 nowMs, QString *tokenId = nullptr);
    // The sessions made from a token end with it.
    void dropToken(const QString &tokenId);
    int size() const { return int(m_sessions.size()); }

private:
    struct Session {
        QString vm;
        QString tokenId;
        qint64 openedMs = 0;
        qint64 lastUsedMs = 0;
    };
    static bool expired(const Session &s, qint64 nowMs);
    void dropExpired(qint64 nowMs);
    void dropOldest();

    QHash<QByteArray, Session> m_sessions;
};

} // namespace Server
