// GET /metrics: the token is required, the text parses as the Prometheus
// text format 0.0.4, and the counters move: VMs by state, requests by route
// pattern and status, the latency histogram, exec errors. No guest boots.

#include "servicefixture.h"

#include "server/metrics.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTest>

namespace {

// "name{labels}" -> value, for every sample; *problem says what did not parse.
QHash<QString, double> parse(const QByteArray &text, QString *problem)
{
    static const QRegularExpression sample(
        QStringLiteral("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\",?)*\\})? (\\S+)$"));
    static const QRegularExpression comment(QStringLiteral("^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$"));
    QHash<QString, double> out;
    QSet<QString> typed;
    if (!text.endsWith('\n'))
        *problem = QStringLiteral("no final newline");
    for (const QByteArray &raw : text.split('\n')) {
        const QString line = QString::fromUtf8(raw);
        if (line.isEmpty())
            continue;
        if (line.startsWith(QLatin1Char('#'))) {
            const auto m = comment.match(line);
            if (!m.hasMatch())
                *problem = QStringLiteral("bad comment: ") + line;
            else if (m.captured(1) == QLatin1String("TYPE"))
                typed << m.captured(2);
            continue;
        }
        const auto m = sample.match(line);
        bool ok = false;
        const double v = m.captured(3) == QLatin1String("+Inf") ? qInf() : m.captured(3).toDouble(&ok);
        if (!m.hasMatch() || (!ok && m.captured(3) != QLatin1String("+Inf"))) {
            *problem = QStringLiteral("bad sample: ") + line;
            continue;
        }
        QString family = m.captured(1);
        for (const char *suffix : {"_bucket", "_sum", "_count"}) {
            if (!typed.contains(family) && family.endsWith(QLatin1String(suffix)))
                family.chop(static_cast<int>(qstrlen(suffix)));
        }
        if (!typed.contains(family))
            *problem = QStringLiteral("sample before its TYPE: ") + line;
        out.insert(m.captured(1) + m.captured(2), v);
    }
    return out;
}

} // namespace

class TestMetrics : public QObject {
    Q_OBJECT

    std::unique_ptr<TestService::Service> m_service;

    QHash<QString, double> scrape()
    {
        const TestService::Reply r = m_service->call("GET", QStringLiteral("/metrics"));
        if (r.status != 200 || !r.contentType.startsWith("text/plain; version=0.0.4"))
            return {};
        QString problem;
        auto samples = parse(r.body, &problem);
        if (!problem.isEmpty()) {
            qWarning("%s", qPrintable(problem));
            return {};
        }
        return samples;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_service = std::make_unique<TestService::Service>();
        QVERIFY(m_service->port());
    }

    void cleanupTestCase() { m_service.reset(); }

    void needsTheToken()
    {
        const TestService::Reply r = m_service->call("GET", QStringLiteral("/metrics"), {}, false);
        QCOMPARE(r.status, 401);
    }

    void parsesAndCountersMove()
    {
        const QString vmsCreated = QStringLiteral("mvs_vms{state=\"created\"}");
        const QString notFound = QStringLiteral("mvs_http_requests_total{method=\"GET\",route=\"/api/v1/vms/{name}\",status=\"404\"}");
        const QString created = QStringLiteral("mvs_http_requests_total{method=\"POST\",route=\"/api/v1/vms\",status=\"201\"}");
        const QString getCount = QStringLiteral("mvs_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/vms/{name}\"}");
        const QString getInf = QStringLiteral("mvs_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/vms/{name}\",le=\"+Inf\"}");
        const QString unauthorized = QStringLiteral("mvs_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"}");

        const QHash<QString, double> before = scrape();
        QVERIFY(!before.isEmpty());
        QCOMPARE(before.value(vmsCreated, -1), 0.0);
        QCOMPARE(before.value(QStringLiteral("mvs_vms{state=\"running\"}"), -1), 0.0);
        QCOMPARE(before.value(QStringLiteral("mvs_exec_total"), -1), 0.0);
        QCOMPARE(before.value(unauthorized, -1), 1.0); // needsTheToken

        QCOMPARE(m_service->call("GET", QStringLiteral("/api/v1/vms/nope")).status, 404);
        QCOMPARE(m_service->call("GET", QStringLiteral("/api/v1/vms/nope")).status, 404);
        const QByteArray create = QJsonDocument(QJsonObject{{QStringLiteral("name"), QStringLiteral("m1")},
                                                            {QStringLiteral("template"), QStringLiteral("minimal")},
                                                            {QStringLiteral("start"), false}})
                                      .toJson(QJsonDocument::Compact);
        const TestService::Reply c = m_service->call("POST", QStringLiteral("/api/v1/vms"), create);
        QVERIFY2(c.status == 201, c.body.constData());
        // Exec on a VM that is not running fails: an exec error.
        const TestService::Reply e = m_service->call("POST", QStringLiteral("/api/v1/vms/m1/exec"), QByteArrayLiteral("{\"cmd\":[\"true\"]}"));
        QCOMPARE(e.status, 409);

        const QHash<QString, double> after = scrape();
        QVERIFY(!after.isEmpty());
        QCOMPARE(after.value(vmsCreated), 1.0);
        QCOMPARE(after.value(notFound) - before.value(notFound), 2.0);
        QCOMPARE(after.value(created), 1.0);
        QCOMPARE(after.value(getCount) - before.value(getCount), 2.0);
        QCOMPARE(after.value(getInf), after.value(getCount));
        QCOMPARE(after.value(QStringLiteral("mvs_exec_total")), 1.0);
        QCOMPARE(after.value(QStringLiteral("mvs_exec_errors_total")), 1.0);
        // The previous scrape counted itself.
        QVERIFY(after.value(QStringLiteral("mvs_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}")) >= 1.0);

        // Buckets are cumulative and end at the count.
        double last = 0;
        for (double le : Server::Metrics::kLatencyBuckets) {
            const QString key = QStringLiteral("mvs_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/vms/{name}\",le=\"%1\"}")
                                    .arg(QString::number(le, 'g', 12));
            QVERIFY2(after.contains(key), qPrintable(key));
            QVERIFY(after.value(key) >= last);
            last = after.value(key);
        }
        QVERIFY(last <= after.value(getInf));

        QCOMPARE(m_service->call("DELETE", QStringLiteral("/api/v1/vms/m1")).status, 200);
        QCOMPARE(scrape().value(vmsCreated), 0.0);
    }

    void labelsAreEscaped()
    {
        Server::Metrics m;
        m.recordRequest(QStringLiteral("GET"), QStringLiteral("a\"b\\c\nd"), 200, 0.002);
        const QByteArray text = m.render({});
        QVERIFY2(text.contains("route=\"a\\\"b\\\\c\\nd\""), text.constData());
        QString problem;
        parse(text, &problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
