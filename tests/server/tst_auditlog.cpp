// The audit log (AuditLog): JSON lines appended with every field, what it
// wants (changes, denials, WebSockets), rotation by size keeping N files
// (the oldest dropped), and reading with filters across the rotated files.
// The per-peer limit on failed authentication (AuthRateLimiter) too.

#include "server/auditlog.h"
#include "server/authratelimiter.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QTimeZone>
#include <QTemporaryDir>
#include <QTest>

using Server::AuditLog;
using Server::AuthRateLimiter;

namespace {

AuditLog::Entry entry(int i, const QString &vm, int status)
{
    AuditLog::Entry e;
    e.time = QDateTime(QDate(2026, 1, 1), QTime(0, 0), QTimeZone::utc()).addSecs(i);
    e.tokenId = i % 2 ? QStringLiteral("odd") : QStringLiteral("even");
    e.role = QStringLiteral("operator");
    e.method = QStringLiteral("POST");
    e.route = QStringLiteral("/api/v1/vms/{name}/exec");
    e.vm = vm;
    e.status = status;
    e.peer = QStringLiteral("127.0.0.1");
    e.requestId = QStringLiteral("req-%1").arg(i);
    return e;
}

} // namespace

class TestAuditLog : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The desktop app's take-over and release, which no request carries.
    void appTakeOversAreEntries()
    {
        QTemporaryDir dir;
        AuditLog log(dir.filePath(QStringLiteral("audit/audit.jsonl")));
        QVERIFY(log.append(AuditLog::appControl(QStringLiteral("desk"), true)));
        QVERIFY(log.append(AuditLog::appControl(QStringLiteral("desk"), false)));
        QVERIFY(log.append(AuditLog::appControl(QStringLiteral("other"), true)));
        AuditLog::Query q;
        q.vm = QStringLiteral("desk");
        const QList<QJsonObject> got = log.read(q);
        QCOMPARE(got.size(), 2);
        QCOMPARE(got.at(0).value(QStringLiteral("token")).toString(), QStringLiteral("app"));
        QCOMPARE(got.at(0).value(QStringLiteral("method")).toString(), QStringLiteral("APP"));
        QCOMPARE(got.at(0).value(QStringLiteral("route")).toString(), QStringLiteral("display/control: human"));
        QCOMPARE(got.at(0).value(QStringLiteral("outcome")).toString(), QStringLiteral("allowed"));
        QCOMPARE(got.at(0).value(QStringLiteral("peer")).toString(), QStringLiteral("local"));
        QCOMPARE(got.at(1).value(QStringLiteral("route")).toString(), QStringLiteral("display/control: agent"));
        QVERIFY(QDateTime::fromString(got.at(0).value(QStringLiteral("time")).toString(), Qt::ISODateWithMs).isValid());
    }

    void linesHoldEveryField()
    {
        QTemporaryDir dir;
        AuditLog log(dir.filePath(QStringLiteral("audit/audit.jsonl")));
        QVERIFY(log.append(entry(1, QStringLiteral("ci-1"), 200)));
        QVERIFY(log.append(entry(2, QStringLiteral("ci-1"), 403)));
        QFile f(log.path());
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().split('\n');
        QCOMPARE(lines.size(), 3); // two lines and the empty rest
        const QJsonObject first = QJsonDocument::fromJson(lines.at(0)).object();
        QCOMPARE(first.value(QStringLiteral("time")).toString(), QStringLiteral("2026-01-01T00:00:01.000Z"));
        QCOMPARE(first.value(QStringLiteral("token")).toString(), QStringLiteral("odd"));
        QCOMPARE(first.value(QStringLiteral("role")).toString(), QStringLiteral("operator"));
        QCOMPARE(first.value(QStringLiteral("method")).toString(), QStringLiteral("POST"));
        QCOMPARE(first.value(QStringLiteral("route")).toString(), QStringLiteral("/api/v1/vms/{name}/exec"));
        QCOMPARE(first.value(QStringLiteral("vm")).toString(), QStringLiteral("ci-1"));
        QCOMPARE(first.value(QStringLiteral("status")).toInt(), 200);
        QCOMPARE(first.value(QStringLiteral("outcome")).toString(), QStringLiteral("allowed"));
        QCOMPARE(first.value(QStringLiteral("peer")).toString(), QStringLiteral("127.0.0.1"));
        QCOMPARE(first.value(QStringLiteral("request_id")).toString(), QStringLiteral("req-1"));
        QCOMPARE(QJsonDocument::fromJson(lines.at(1)).object().value(QStringLiteral("outcome")).toString(), QStringLiteral("denied"));
        QCOMPARE(f.permissions() & (QFileDevice::ReadOther | QFileDevice::ReadGroup), QFileDevice::Permissions());
    }

    void wanted()
    {
        QVERIFY(AuditLog::wanted(QStringLiteral("POST"), 201, false));
        QVERIFY(AuditLog::wanted(QStringLiteral("DELETE"), 404, false));
        QVERIFY(!AuditLog::wanted(QStringLiteral("GET"), 200, false));
        QVERIFY(!AuditLog::wanted(QStringLiteral("GET"), 404, false));
        QVERIFY(AuditLog::wanted(QStringLiteral("GET"), 401, false));
        QVERIFY(AuditLog::wanted(QStringLiteral("GET"), 403, false));
        QVERIFY(AuditLog::wanted(QStringLiteral("GET"), 429, false));
        QVERIFY(AuditLog::wanted(QStringLiteral("GET"), 101, true));
    }

    // Small files: rotation keeps kKeep files, the oldest entries go.
    void rotation()
    {
        QTemporaryDir dir;
        constexpr int kKeep = 3;
        const QByteArray line = QJsonDocument(entry(0, QStringLiteral("ci-1"), 200).toJson()).toJson(QJsonDocument::Compact) + '\n';
        AuditLog log(dir.filePath(QStringLiteral("audit.jsonl")), 4 * line.size() + 8, kKeep);
        for (int i = 0; i < 40; ++i)
            QVERIFY(log.append(entry(i, QStringLiteral("ci-1"), 200)));
        const QStringList files = QDir(dir.path()).entryList(QDir::Files, QDir::Name);
        QCOMPARE(files, (QStringList{QStringLiteral("audit.jsonl"), QStringLiteral("audit.jsonl.1"), QStringLiteral("audit.jsonl.2")}));
        for (const QString &name : files)
            QVERIFY(QFileInfo(dir.filePath(name)).size() <= 4 * line.size() + 8);
        // What is kept: the newest, in order, oldest first.
        const QList<QJsonObject> all = log.read({{}, {}, {}, {}, AuditLog::kMaxQueryLimit});
        QVERIFY(all.size() >= 2 * 4 + 1 && all.size() <= kKeep * 4);
        QCOMPARE(all.last().value(QStringLiteral("request_id")).toString(), QStringLiteral("req-39"));
        for (qsizetype i = 1; i < all.size(); ++i)
            QVERIFY(all.at(i - 1).value(QStringLiteral("time")).toString() < all.at(i).value(QStringLiteral("time")).toString());
        QVERIFY(all.first().value(QStringLiteral("request_id")).toString() != QStringLiteral("req-0"));
    }

    void filters()
    {
        QTemporaryDir dir;
        AuditLog log(dir.filePath(QStringLiteral("audit.jsonl")));
        for (int i = 0; i < 10; ++i)
            QVERIFY(log.append(entry(i, i < 5 ? QStringLiteral("a") : QStringLiteral("b"), i % 3 ? 200 : 403)));
        QCOMPARE(log.read({{}, QStringLiteral("a"), {}, {}, 100}).size(), 5);
        QCOMPARE(log.read({{}, {}, QStringLiteral("odd"), {}, 100}).size(), 5);
        QCOMPARE(log.read({{}, {}, {}, QStringLiteral("denied"), 100}).size(), 4); // 0, 3, 6, 9
        const QDateTime since = QDateTime(QDate(2026, 1, 1), QTime(0, 0, 7), QTimeZone::utc());
        QCOMPARE(log.read({since, {}, {}, {}, 100}).size(), 3);
        const QList<QJsonObject> newest = log.read({{}, {}, {}, {}, 2});
        QCOMPARE(newest.size(), 2);
        QCOMPARE(newest.last().value(QStringLiteral("request_id")).toString(), QStringLiteral("req-9"));
    }

    void rateLimiter()
    {
        AuthRateLimiter limiter;
        const QString peer = QStringLiteral("10.0.0.1");
        for (int i = 0; i < AuthRateLimiter::kMaxFailures - 1; ++i)
            limiter.failed(peer, 1000 + i);
        QCOMPARE(limiter.blockedForMs(peer, 2000), 0);
        limiter.failed(peer, 2000);
        QCOMPARE(limiter.blockedForMs(peer, 2000), AuthRateLimiter::kWindowMs - 1000);
        QCOMPARE(limiter.blockedForMs(QStringLiteral("10.0.0.2"), 2000), 0);
        QVERIFY(limiter.firstRefusal(peer, 2000));
        QVERIFY(!limiter.firstRefusal(peer, 3000));
        QVERIFY(!limiter.firstRefusal(QStringLiteral("10.0.0.2"), 3000));
        QCOMPARE(limiter.blockedForMs(peer, 1000 + AuthRateLimiter::kWindowMs), 0);
        // A new window after the old one ends.
        limiter.failed(peer, 1000 + AuthRateLimiter::kWindowMs);
        QCOMPARE(limiter.blockedForMs(peer, 1000 + AuthRateLimiter::kWindowMs), 0);
    }

    void rateLimiterIsBounded()
    {
        AuthRateLimiter limiter;
        for (int i = 0; i < AuthRateLimiter::kMaxPeers + 100; ++i)
            limiter.failed(QStringLiteral("peer-%1").arg(i), i);
        QCOMPARE(limiter.size(), AuthRateLimiter::kMaxPeers);
    }
};

QTEST_GUILESS_MAIN(TestAuditLog)
#include "tst_auditlog.moc"
