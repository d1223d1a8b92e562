// A VM's usage history at the API (no guest boots; samples are recorded
// into the service's history as its sampler would): GET .../stats answers
// the samples kept, oldest first, with the CPU use between neighbours, and
// only those after `since` (milliseconds or ISO 8601 with its zone; a time
// without a zone, or text, is 400); an unknown VM is 404; the ring keeps
// at most an hour and kMaxSamples; a deleted VM's samples go with it.

#include "servicefixture.h"

#include "server/usagehistory.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using Sample = Server::UsageHistory::Sample;

class TestUsageApi : public QObject {
    Q_OBJECT

    static QJsonObject json(const TestService::Reply &r) { return QJsonDocument::fromJson(r.body).object(); }

    static Sample sample(qint64 atMs, double cpuSeconds)
    {
        Sample s;
        s.atMs = atMs;
        s.vmmCpuSeconds = cpuSeconds;
        s.vmmResidentBytes = 64ull << 20;
        s.diskBytes = 4096;
        return s;
    }

    static void create(TestService::Service &s, const char *name)
    {
        const QByteArray body = QStringLiteral(R"({"name": "%1", "template": "minimal", "start": false})").arg(QLatin1String(name)).toUtf8();
        QCOMPARE(s.call("POST", QStringLiteral("/api/v1/vms"), body).status, 201);
    }

private Q_SLOTS:
    void samplesWithCpuBetweenThem()
    {
        TestService::Service s;
        create(s, "box");
        auto empty = s.call("GET", QStringLiteral("/api/v1/vms/box/stats"));
        QCOMPARE(empty.status, 200);
        QCOMPARE(json(empty).value(QStringLiteral("interval_ms")).toInt(), Server::UsageHistory::kIntervalMs);
        QCOMPARE(json(empty).value(QStringLiteral("samples")).toArray().size(), 0);

        const qint64 t0 = QDateTime::currentMSecsSinceEpoch() - 20000;
        Server::UsageHistory &history = s.controller().usage();
        history.record(QStringLiteral("box"), sample(t0, 1.0));
        history.record(QStringLiteral("box"), sample(t0 + 5000, 1.5)); // 0.5 s of CPU in 5 s: 10 %
        Sample guest = sample(t0 + 10000, 3.0); // 1.5 s in 5 s: 30 %
        guest.guestMemTotalBytes = 200ull << 20;
        guest.guestMemAvailableBytes = 150ull << 20;
        history.record(QStringLiteral("box"), guest);

        const QJsonArray all = json(s.call("GET", QStringLiteral("/api/v1/vms/box/stats"))).value(QStringLiteral("samples")).toArray();
        QCOMPARE(all.size(), 3);
        QVERIFY(all[0].toObject().value(QStringLiteral("cpu_percent")).isNull());
        QCOMPARE(all[1].toObject().value(QStringLiteral("cpu_percent")).toDouble(), 10.0);
        QCOMPARE(all[2].toObject().value(QStringLiteral("cpu_percent")).toDouble(), 30.0);
        QCOMPARE(all[2].toObject().value(QStringLiteral("guest_memory_total_bytes")).toDouble(), double(200 << 20));
        QVERIFY(all[1].toObject().value(QStringLiteral("guest_memory_total_bytes")).isNull());
        QCOMPARE(all[0].toObject().value(QStringLiteral("time_ms")).toDouble(), double(t0));
        QCOMPARE(all[0].toObject().value(QStringLiteral("vmm_resident_bytes")).toDouble(), double(64 << 20));
        QCOMPARE(QDateTime::fromString(all[0].toObject().value(QStringLiteral("time")).toString(), Qt::ISODateWithMs).toMSecsSinceEpoch(), t0);

        // After t0: two, the first with its CPU from the one before it.
        const QJsonArray after = json(s.call("GET", QStringLiteral("/api/v1/vms/box/stats?since=%1").arg(t0))).value(QStringLiteral("samples")).toArray();
        QCOMPARE(after.size(), 2);
        QCOMPARE(after[0].toObject().value(QStringLiteral("cpu_percent")).toDouble(), 10.0);
        const QString iso = QDateTime::fromMSecsSinceEpoch(t0 + 5000).toUTC().toString(Qt::ISODateWithMs);
        const QJsonArray afterIso = json(s.call("GET", QStringLiteral("/api/v1/vms/box/stats?since=%1").arg(iso))).value(QStringLiteral("samples")).toArray();
        QCOMPARE(afterIso.size(), 1);
        QCOMPARE(afterIso[0].toObject().value(QStringLiteral("time_ms")).toDouble(), double(t0 + 10000));
    }

    void badSinceAndUnknownVm()
    {
        TestService::Service s;
        create(s, "box");
        for (const char *bad : {"yesterday", "2026-12-04T20:00:00", "-5"}) {
            const auto r = s.call("GET", QStringLiteral("/api/v1/vms/box/stats?since=%1").arg(QLatin1String(bad)));
            QCOMPARE(r.status, 400);
            QVERIFY2(json(r).value(QStringLiteral("error")).toObject().value(QStringLiteral("message")).toString().contains(QLatin1String("'since'")), r.body);
        }
        QCOMPARE(s.call("GET", QStringLiteral("/api/v1/vms/nope/stats")).status, 404);
        QCOMPARE(s.call("GET", QStringLiteral("/api/v1/vms/box/stats"), {}, false).status, 401);
    }

    // At most kMaxSamples, none older than kKeepMs before the newest.
    void theRingIsBounded()
    {
        TestService::Service s;
        create(s, "box");
        Server::UsageHistory &history = s.controller().usage();
        const qint64 t0 = 1'000'000'000'000;
        for (int i = 0; i < Server::UsageHistory::kMaxSamples + 50; ++i)
            history.record(QStringLiteral("box"), sample(t0 + qint64(i) * 1000, i));
        QCOMPARE(history.since(QStringLiteral("box"), 0).size(), Server::UsageHistory::kMaxSamples);
        history.record(QStringLiteral("box"), sample(t0 + 10 * Server::UsageHistory::kKeepMs, 0));
        QCOMPARE(history.since(QStringLiteral("box"), 0).size(), 1);
        // A VMM restarted (its time went back): no CPU figure, not a negative one.
        QVERIFY(!Server::UsageHistory::cpuPercent(sample(t0, 5.0), sample(t0 + 5000, 1.0)));
        QVERIFY(!Server::UsageHistory::cpuPercent(sample(t0, 1.0), sample(t0, 2.0)));
    }

    void aDeletedVmsSamplesGo()
    {
        TestService::Service s;
        create(s, "box");
        s.controller().usage().record(QStringLiteral("box"), sample(QDateTime::currentMSecsSinceEpoch(), 1.0));
        QCOMPARE(s.call("DELETE", QStringLiteral("/api/v1/vms/box")).status, 200);
        QCOMPARE(s.controller().usage().since(QStringLiteral("box"), 0).size(), 0);
        create(s, "box");
        QCOMPARE(json(s.call("GET", QStringLiteral("/api/v1/vms/box/stats"))).value(QStringLiteral("samples")).toArray().size(), 0);
    }

    // The sampler reads nothing of a VM that does not run (no VMM).
    void stoppedVmsAreNotSampled()
    {
        TestService::Service s;
        create(s, "box");
        s.controller().usage().sampleNow();
        QCOMPARE(s.controller().usage().since(QStringLiteral("box"), 0).size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestUsageApi)
#include "tst_usageapi.moc"
