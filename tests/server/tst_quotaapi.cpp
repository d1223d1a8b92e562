// The host's quotas at the API (no guest boots): a create over the VM count
// answers 429 quota_exceeded with the limit and the numbers in its message
// and no Retry-After (waiting does not help; a delete does), and leaves no
// VM; so does a VM too large to run at all. Deleting one makes room again.

#include "servicefixture.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

class TestQuotaApi : public QObject {
    Q_OBJECT

    static QJsonObject errorOf(const TestService::Reply &r) { return QJsonDocument::fromJson(r.body).object().value(QStringLiteral("error")).toObject(); }
    static QByteArray vm(const char *name, int memoryMb = 256)
    {
        return QStringLiteral(R"({"name": "%1", "template": "minimal", "memory_mb": %2, "start": false})").arg(QLatin1String(name)).arg(memoryMb).toUtf8();
    }

    static Vm::QuotaLimits limitsOf(int vms, qint64 memoryMiB)
    {
        Vm::QuotaLimits limits;
        limits.maxVms = vms;
        limits.maxMemoryMiB = memoryMiB;
        return limits;
    }

private Q_SLOTS:
    void overTheCountIs429()
    {
        TestService::Service s;
        s.manager().setQuota(limitsOf(2, 1000));
        QCOMPARE(s.call("POST", QStringLiteral("/api/v1/vms"), vm("one")).status, 201);
        QCOMPARE(s.call("POST", QStringLiteral("/api/v1/vms"), vm("two")).status, 201);
        const auto over = s.call("POST", QStringLiteral("/api/v1/vms"), vm("three"));
        QCOMPARE(over.status, 429);
        QCOMPARE(errorOf(over).value(QStringLiteral("code")).toString(), QStringLiteral("quota_exceeded"));
        QCOMPARE(errorOf(over).value(QStringLiteral("message")).toString(), QStringLiteral("quota exceeded: vms: 2 in use + 1 asked > 2 allowed (over by 1)"));
        QVERIFY(over.retryAfter.isEmpty());
        QCOMPARE(s.call("GET", QStringLiteral("/api/v1/vms/three")).status, 404);

        // Too large for the host's memory even alone.
        QCOMPARE(s.call("DELETE", QStringLiteral("/api/v1/vms/two")).status / 100, 2);
        const auto big = s.call("POST", QStringLiteral("/api/v1/vms"), vm("big", 2048));
        QCOMPARE(big.status, 429);
        QVERIFY2(errorOf(big).value(QStringLiteral("message")).toString().contains(QStringLiteral("memory: 0 MiB in use + 2048 MiB asked > 1000 MiB allowed")),
                 big.body.constData());
        QCOMPARE(s.call("GET", QStringLiteral("/api/v1/vms/big")).status, 404);
        // Room again after the delete.
        QCOMPARE(s.call("POST", QStringLiteral("/api/v1/vms"), vm("three")).status, 201);
    }

    // GET /api/v1/system shows the limits (null: none) and what is used;
    // the disk is walked only when it is limited.
    void systemShowsLimitsAndUsage()
    {
        TestService::Service s;
        Vm::QuotaLimits limits = limitsOf(5, 4096);
        s.manager().setQuota(limits);
        QCOMPARE(s.call("POST", QStringLiteral("/api/v1/vms"), vm("one", 300)).status, 201);
        auto reply = s.call("GET", QStringLiteral("/api/v1/system"));
        QCOMPARE(reply.status, 200);
        QJsonObject quota = QJsonDocument::fromJson(reply.body).object().value(QStringLiteral("quota")).toObject();
        const QJsonObject l = quota.value(QStringLiteral("limits")).toObject();
        QCOMPARE(l.value(QStringLiteral("vms")).toInt(), 5);
        QVERIFY(l.value(QStringLiteral("vcpus")).isNull());
        QCOMPARE(l.value(QStringLiteral("memory_mb")).toInt(), 4096);
        QVERIFY(l.value(QStringLiteral("disk_bytes")).isNull());
        QJsonObject u = quota.value(QStringLiteral("usage")).toObject();
        QCOMPARE(u.value(QStringLiteral("vms")).toInt(), 1);
        QCOMPARE(u.value(QStringLiteral("vcpus")).toInt(), 0); // created, not started: holds no VMM
        QCOMPARE(u.value(QStringLiteral("memory_mb")).toInt(), 0);
        QVERIFY(u.value(QStringLiteral("disk_bytes")).isNull());

        limits.maxDiskBytes = qint64(1) << 40;
        s.manager().setQuota(limits);
        reply = s.call("GET", QStringLiteral("/api/v1/system"));
        u = QJsonDocument::fromJson(reply.body).object().value(QStringLiteral("quota")).toObject().value(QStringLiteral("usage")).toObject();
        QVERIFY2(u.value(QStringLiteral("disk_bytes")).toDouble() > 0, reply.body.constData()); // the VM's record at least
    }
};

QTEST_GUILESS_MAIN(TestQuotaApi)
#include "tst_quotaapi.moc"
