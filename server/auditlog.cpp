#include "server/auditlog.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>

#include <deque>

namespace Server {

QString AuditLog::Entry::outcome() const
{
    if (status == 401 || status == 403 || status == 429)
        return QStringLiteral("denied");
    return status < 400 ? QStringLiteral("allowed") : QStringLiteral("failed");
}

QJsonObject AuditLog::Entry::toJson() const
{
    auto orNull = [](const QString &s) { return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s); };
    return QJsonObject{{QStringLiteral("time"), time.toUTC().toString(Qt::ISODateWithMs)},
                       {QStringLiteral("token"), orNull(tokenId)},
                       {QStringLiteral("role"), orNull(role)},
                       {QStringLiteral("method"), method},
                       {QStringLiteral("route"), route},
                       {QStringLiteral("vm"), orNull(vm)},
                       {QStringLiteral("status"), status},
                       {QStringLiteral("outcome"), outcome()},
                       {QStringLiteral("peer"), peer},
                       {QStringLiteral("request_id"), orNull(requestId)}};
}

AuditLog::AuditLog(QString path, qint64 maxFileBytes, int keepFiles)
    : m_path(std::move(path))
    , m_maxFileBytes(maxFileBytes)
    , m_keepFiles(qMax(1, keepFiles))
{
}

QString AuditLog::pathFor(const QString &stateDir)
{
    return QFileInfo(stateDir).absolutePath() + QStringLiteral("/audit/audit.jsonl");
}

bool AuditLog::wanted(const QString &method, int status, bool webSocket)
{
    return webSocket || method != QLatin1String("GET") || status == 401 || status == 403 || status == 429;
}

AuditLog::Entry AuditLog::appControl(const QString &vm, bool human)
{
    Entry e;
    e.time = QDateTime::currentDateTimeUtc();
    e.tokenId = QStringLiteral("app");
    e.role = QStringLiteral("admin");
    e.method = QStringLiteral("APP");
    e.route = human ? QStringLiteral("display/control: human") : QStringLiteral("display/control: agent");
    e.vm = vm;
    e.status = 200;
    e.peer = QStringLiteral("local");
    return e;
}

QString AuditLog::rotatedPath(int n) const
{
    return n == 0 ? m_path : m_path + QLatin1Char('.') + QString::number(n);
}

// audit.jsonl.<k-2> -> .<k-1> ... audit.jsonl -> .1; the oldest is dropped.
void AuditLog::rotate()
{
    m_file.close();
    QFile::remove(rotatedPath(m_keepFiles - 1));
    for (int n = m_keepFiles - 2; n >= 0; --n)
        QFile::rename(rotatedPath(n), rotatedPath(n + 1));
    if (m_keepFiles == 1)
        QFile::remove(m_path);
}

Core::Result AuditLog::openLive()
{
    if (m_file.isOpen())
        return {};
    const QString dir = QFileInfo(m_path).absolutePath();
    if (!QFileInfo::exists(dir)) {
        if (auto ok = Core::Paths::ensurePrivateDir(dir); !ok)
            return ok.error();
    }
    m_file.setFileName(m_path);
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot append to the audit log %1: %2").arg(m_path, m_file.errorString()));
    m_file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    m_size = m_file.size();
    return {};
}

Core::Result AuditLog::append(const Entry &entry)
{
    const QByteArray line = QJsonDocument(entry.toJson()).toJson(QJsonDocument::Compact) + '\n';
    if (auto ok = openLive(); !ok)
        return ok;
    if (m_size > 0 && m_size + line.size() > m_maxFileBytes) {
        rotate();
        if (auto ok = openLive(); !ok)
            return ok;
    }
    if (m_file.write(line) != line.size()) {
        const QString why = m_file.errorString();
        m_file.close(); // opened again by the next entry
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot append to the audit log %1: %2").arg(m_path, why));
    }
    m_size += line.size();
    return {};
}

namespace {

bool passes(const QJsonObject &o, const AuditLog::Query &q)
{
    if (q.since.isValid() && QDateTime::fromString(o.value(QStringLiteral("time")).toString(), Qt::ISODateWithMs) < q.since)
        return false;
    if (!q.vm.isEmpty() && o.value(QStringLiteral("vm")).toString() != q.vm)
        return false;
    if (!q.token.isEmpty() && o.value(QStringLiteral("token")).toString() != q.token)
        return false;
    return q.outcome.isEmpty() || o.value(QStringLiteral("outcome")).toString() == q.outcome;
}

} // namespace

QList<QJsonObject> AuditLog::read(const Query &query) const
{
    const int limit = qBound(1, query.limit, kMaxQueryLimit);
    std::deque<QJsonObject> kept;
    for (int n = m_keepFiles - 1; n >= 0; --n) {
        QFile f(rotatedPath(n));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        while (!f.atEnd()) {
            const QByteArray line = f.readLine(kMaxLineBytes);
            const QJsonDocument doc = QJsonDocument::fromJson(line);
            if (!doc.isObject() || !passes(doc.object(), query))
                continue;
            kept.push_back(doc.object());
            if (int(kept.size()) > limit)
                kept.pop_front();
        }
    }
    return QList<QJsonObject>(kept.begin(), kept.end());
}

} // namespace Server
