#pragma once
// The service's audit log: one JSON object per line, appended, never
// rewritten. It holds every request that changes something (all but GET),
// every denied one (401, 403; a blocked peer's first 429 a minute, see
// RequestAuth::record), every WebSocket opened (exec, display)
// and so every take-over of a desktop (POST .../display/control). The file
// is rotated by size: audit.jsonl, then audit.jsonl.1 ... .<kKeepFiles - 1>,
// the oldest dropped. read() filters the kept files, oldest first.

#include "core/expected.h"

#include <QDateTime>
#include <QFile>
#include <QJsonObject>
#include <QList>
#include <QString>

namespace Server {

class AuditLog {
public:
    static constexpr qint64 kMaxFileBytes = qint64(10) << 20;
    static constexpr int kKeepFiles = 5; // the live file and 4 rotated ones
    static constexpr int kDefaultQueryLimit = 100;
    static constexpr int kMaxQueryLimit = 1000;
    static constexpr qsizetype kMaxLineBytes = 64 * 1024; // longer lines are not ours: skipped

    struct Entry {
        QDateTime time;
        QString tokenId; // empty: no valid credential
        QString role; // empty likewise
        QString method;
        QString route; // the pattern, never the raw path ("unmatched" for none)
        QString vm; // the {name} parameter, if any
        int status = 0;
        QString peer;
        QString requestId; // X-Request-Id, if the request had one

        // "allowed" (below 400), "denied" (401, 403, 429) or "failed".
        QString outcome() const;
        QJsonObject toJson() const;
    };
    struct Query {
        QDateTime since; // invalid: from the start
        QString vm;
        QString token;
        QString outcome;
        int limit = kDefaultQueryLimit; // the newest this many
    };

    // path: the live file; its directory is made private when missing.
    explicit AuditLog(QString path, qint64 maxFileBytes = kMaxFileBytes, int keepFiles = kKeepFiles);
    Q_DISABLE_COPY_MOVE(AuditLog)

    // <state dir>/../audit/audit.jsonl: next to the VM records' directory.
    static QString pathFor(const QString &stateDir);
    QString path() const { return m_path; }

    // Whether a request belongs in the log.
    static bool wanted(const QString &method, int status, bool webSocket);
    // A take-over (human) or release of vm's desktop by the person at the
    // desktop app, which no API request carries: token "app", method "APP",
    // route "display/control: human" (or "agent"), peer "local".
    static Entry appControl(const QString &vm, bool human);
    Core::Result append(const Entry &entry);
    // The entries that pass the query, oldest first, the newest query.limit.
    QList<QJsonObject> read(const Query &query) const;

private:
    QString rotatedPath(int n) const;
    void rotate();
    Core::Result openLive();

    QString m_path;
    qint64 m_maxFileBytes;
    int m_keepFiles;
    // The live file, kept open for appending (a request's entry is one
    // write, no open and stat), and its size.
    QFile m_file;
    qint64 m_size = 0;
};

} // namespace Server
