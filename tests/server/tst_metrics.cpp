// GET /metrics: the token is required, the text parses as the Prometheus
// text format 0.0.4, and the counters move: VMs by state, requests by route
// pattern and status, the latency histogram, exec errors. The per-VM series
// (rendered, bounded, gone with their VM), the /proc parsers behind the VMM
// series, and GET /api/v1/system's fields. No guest boots.

#include "servicefixture.h"

#include "server/hoststats.h"
#include "server/metrics.h"

#include <unistd.h>

#include <QJsonArray>
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

    void vmSeriesRenderAndGo()
    {
        Server::Metrics m;
        m.recordVmExec(QStringLiteral("a"), 10);
        m.recordVmExec(QStringLiteral("a"), 5);
        m.recordVmTransfer(QStringLiteral("a"), Server::Metrics::Transfer::Upload, 100);
        m.recordVmTransfer(QStringLiteral("a"), Server::Metrics::Transfer::Download, 7);
        m.recordVmSnapshot(QStringLiteral("a"), 4096);
        m.recordVmBoot(QStringLiteral("a"), 2.5);
        m.recordVmRestore(QStringLiteral("b"), 0.7);
        std::map<QString, Server::Metrics::VmLive> live;
        live[QStringLiteral("a")] = {12.5, 300 << 20, 512ull << 20, 400ull << 20, 5000, 700};
        live[QStringLiteral("c")] = {1.0, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
        QString problem;
        const QHash<QString, double> v = parse(m.renderVms(live), &problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(v.value(QStringLiteral("mvs_vm_exec_total{vm=\"a\"}")), 2.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_exec_output_bytes_total{vm=\"a\"}")), 15.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_transfers_total{vm=\"a\",direction=\"upload\"}")), 1.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_transfer_bytes_total{vm=\"a\",direction=\"upload\"}")), 100.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_transfer_bytes_total{vm=\"a\",direction=\"download\"}")), 7.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_snapshots_total{vm=\"a\"}")), 1.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_snapshot_bytes_total{vm=\"a\"}")), 4096.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_boot_duration_seconds_bucket{vm=\"a\",le=\"2\"}")), 0.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_boot_duration_seconds_bucket{vm=\"a\",le=\"3\"}")), 1.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_boot_duration_seconds_count{vm=\"a\"}")), 1.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_restore_duration_seconds_sum{vm=\"b\"}")), 0.7);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_vmm_cpu_seconds_total{vm=\"a\"}")), 12.5);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_vmm_resident_memory_bytes{vm=\"a\"}")), double(300 << 20));
        QCOMPARE(v.value(QStringLiteral("mvs_vm_guest_memory_available_bytes{vm=\"a\"}")), double(400ull << 20));
        QVERIFY(v.contains(QStringLiteral("mvs_vm_vmm_cpu_seconds_total{vm=\"c\"}")));
        QVERIFY(!v.contains(QStringLiteral("mvs_vm_vmm_resident_memory_bytes{vm=\"c\"}"))); // unknown: no sample
        QCOMPARE(v.value(QStringLiteral("mvs_vm_network_receive_bytes_total{vm=\"a\"}")), 5000.0);
        QCOMPARE(v.value(QStringLiteral("mvs_vm_network_transmit_bytes_total{vm=\"a\"}")), 700.0);
        QVERIFY(!v.contains(QStringLiteral("mvs_vm_network_receive_bytes_total{vm=\"c\"}"))); // no NIC: no sample

        m.forgetVm(QStringLiteral("a"));
        QVERIFY(!m.hasVmSeries(QStringLiteral("a")));
        QVERIFY(!m.renderVms({}).contains("vm=\"a\""));
        QVERIFY(m.renderVms({}).contains("vm=\"b\""));
    }

    void vmSeriesAreBounded()
    {
        Server::Metrics m;
        for (size_t i = 0; i < Server::Metrics::kMaxVmSeries; ++i)
            m.recordVmExec(QStringLiteral("vm%1").arg(i), 1);
        m.recordVmExec(QStringLiteral("one-too-many"), 1);
        QVERIFY(!m.hasVmSeries(QStringLiteral("one-too-many")));
        QVERIFY(m.renderVms({}).contains("mvs_vm_series_dropped_total 1\n"));
        m.forgetVm(QStringLiteral("vm0")); // a deleted VM makes room
        m.recordVmExec(QStringLiteral("one-too-many"), 1);
        QCOMPARE(m.vmExecCount(QStringLiteral("one-too-many")), quint64(1));
    }

    // The host's quotas: the limits set and what is used (the disk only
    // while it is limited), in a scrape that parses.
    void quotaSeries()
    {
        Vm::QuotaLimits limits;
        limits.maxVms = 50;
        limits.maxMemoryMiB = 36864;
        QByteArray text = Server::Metrics::renderQuota(limits, Vm::QuotaUsage{3, 2, 768, 0});
        QString problem;
        QHash<QString, double> samples = parse(text, &problem);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_limit{resource=\"vms\"}")), 50.0);
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_limit{resource=\"memory_mib\"}")), 36864.0);
        QVERIFY(!samples.contains(QStringLiteral("mvs_quota_limit{resource=\"vcpus\"}")));
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_usage{resource=\"vms\"}")), 3.0);
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_usage{resource=\"vcpus\"}")), 2.0);
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_usage{resource=\"memory_mib\"}")), 768.0);
        QVERIFY(!samples.contains(QStringLiteral("mvs_quota_usage{resource=\"disk_bytes\"}")));
        limits.maxDiskBytes = qint64(1) << 30;
        text = Server::Metrics::renderQuota(limits, Vm::QuotaUsage{3, 2, 768, 4096});
        samples = parse(text, &problem);
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_usage{resource=\"disk_bytes\"}")), 4096.0);
        QCOMPARE(samples.value(QStringLiteral("mvs_quota_limit{resource=\"disk_bytes\"}")), double(qint64(1) << 30));
    }

    void ksmParser()
    {
        const auto on = Server::HostStats::ksmFrom("1\n", "120\n", "4500\n");
        QVERIFY(on && on->running && on->pagesShared == 120 && on->pagesSharing == 4500);
        const auto off = Server::HostStats::ksmFrom("0\n", "0\n", "0\n");
        QVERIFY(off && !off->running);
        const auto unmerging = Server::HostStats::ksmFrom("2\n", "0\n", "0\n");
        QVERIFY(unmerging && !unmerging->running);
        QVERIFY(!Server::HostStats::ksmFrom(QByteArray(), QByteArray(), QByteArray())); // no KSM in the kernel
        QVERIFY(!Server::HostStats::ksmFrom("yes", "1", "1"));
    }

    void procParsers()
    {
        // A command with spaces and parentheses; utime 250 and stime 50 ticks.
        const QByteArray stat = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 5 0 100 1000000 2000 "
                                "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        QCOMPARE(Server::HostStats::cpuSecondsFromStat(stat, 100).value_or(-1), 3.0);
        QVERIFY(!Server::HostStats::cpuSecondsFromStat("4242 (short) S 1 2", 100));
        QVERIFY(!Server::HostStats::cpuSecondsFromStat("no parenthesis", 100));
        QCOMPARE(Server::HostStats::residentBytesFromStatus("Name:\tqemu\nVmPeak:\t 9 kB\nVmRSS:\t  2048 kB\n").value_or(0), quint64(2048) * 1024);
        QVERIFY(!Server::HostStats::residentBytesFromStatus("Name:\tkthread\n"));
        const auto load = Server::HostStats::loadFromLoadavg("0.50 1.25 2.00 3/400 12345\n");
        QVERIFY(load);
        QCOMPARE((*load)[1], 1.25);
        QVERIFY(!Server::HostStats::loadFromLoadavg("0.5"));
        const auto mem = Server::HostStats::memoryFromMeminfo("MemTotal:       16000 kB\nMemFree:  1 kB\nMemAvailable:    8000 kB\n");
        QVERIFY(mem);
        QCOMPARE(mem->totalBytes, quint64(16000) * 1024);
        QCOMPARE(mem->availableBytes, quint64(8000) * 1024);

        // This process, for real.
        const Server::HostStats::ProcessSample self = Server::HostStats::readProcess(::getpid());
        QVERIFY(self.cpuSeconds && *self.cpuSeconds >= 0);
        QVERIFY(self.residentBytes && *self.residentBytes > 1024 * 1024);
        QVERIFY(!Server::HostStats::readProcess(0).cpuSeconds);
    }

    // A VM's series are in /metrics while it exists and go with it.
    void seriesGoWithTheVm()
    {
        const TestService::Reply c =
            m_service->call("POST", QStringLiteral("/api/v1/vms"), QByteArrayLiteral("{\"name\":\"s1\",\"template\":\"minimal\",\"start\":false}"));
        QCOMPARE(c.status, 201);
        m_service->controller().metrics().recordVmSnapshot(QStringLiteral("s1"), 1000);
        QCOMPARE(scrape().value(QStringLiteral("mvs_vm_snapshot_bytes_total{vm=\"s1\"}")), 1000.0);
        QCOMPARE(m_service->call("DELETE", QStringLiteral("/api/v1/vms/s1")).status, 200);
        const QHash<QString, double> after = scrape();
        QVERIFY(!after.isEmpty());
        for (auto it = after.cbegin(); it != after.cend(); ++it)
            QVERIFY2(!it.key().contains(QLatin1String("vm=\"s1\"")), qPrintable(it.key()));
        QVERIFY(after.contains(QStringLiteral("mvs_data_dir_available_bytes")));
        QVERIFY(after.value(QStringLiteral("mvs_data_dir_size_bytes")) > 0);
    }

    void systemHasItsFields()
    {
        const TestService::Reply r = m_service->call("GET", QStringLiteral("/api/v1/system"));
        QCOMPARE(r.status, 200);
        const QJsonObject o = QJsonDocument::fromJson(r.body).object();
        const QJsonObject host = o.value(QStringLiteral("host")).toObject();
        QVERIFY(host.value(QStringLiteral("cpus")).toInt() >= 1);
        QCOMPARE(host.value(QStringLiteral("load")).toArray().size(), 3);
        QVERIFY(host.value(QStringLiteral("memory")).toObject().value(QStringLiteral("total_bytes")).toDouble() > 0);
        // KSM as this kernel has it (or null without it).
        const std::optional<Server::HostStats::Ksm> ksm = Server::HostStats::readKsm();
        QCOMPARE(host.value(QStringLiteral("ksm")).isNull(), !ksm.has_value());
        if (ksm)
            QCOMPARE(host.value(QStringLiteral("ksm")).toObject().value(QStringLiteral("running")).toBool(), ksm->running);
        QVERIFY(o.value(QStringLiteral("data_dir")).toObject().value(QStringLiteral("total_bytes")).toDouble() > 0);
        QVERIFY(o.value(QStringLiteral("data_dir")).toObject().value(QStringLiteral("path")).toString().endsWith(QLatin1String("/vms")));
        QCOMPARE(o.value(QStringLiteral("driver")).toString(), QStringLiteral("none")); // the fixture's
        const QJsonObject accel = o.value(QStringLiteral("accelerator")).toObject();
        QVERIFY(accel.value(QStringLiteral("in_use")).isNull()); // no VM runs
        QVERIFY(accel.value(QStringLiteral("kvm_usable")).isBool());
        QCOMPARE(accel.value(QStringLiteral("reason")).isNull(), accel.value(QStringLiteral("kvm_usable")).toBool());
        const QJsonObject versions = o.value(QStringLiteral("versions")).toObject();
        QCOMPARE(versions.value(QStringLiteral("app")).toString(), QStringLiteral(MVS_VERSION));
        QCOMPARE(versions.value(QStringLiteral("qt")).toString(), QString::fromLatin1(qVersion()));
        const QJsonObject vms = o.value(QStringLiteral("vms")).toObject();
        QCOMPARE(vms.value(QStringLiteral("total")).toInt(), 0);
        QCOMPARE(vms.value(QStringLiteral("by_state")).toObject().value(QStringLiteral("stopped")).toInt(-1), 0);
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
