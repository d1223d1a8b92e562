#pragma once
// The service's counters, rendered in the Prometheus text format 0.0.4.
// Plain C++ over Qt Core: HttpAdapter feeds it (one call per answered
// request), GuestController (one call per exec, HTTP or WebSocket alike);
// MetaController renders it for GET /metrics with the VM counts.

#include <QByteArray>
#include <QMap>
#include <QString>

#include <array>
#include <map>
#include <utility>

namespace Server {

class Metrics {
public:
    // Upper bounds (seconds) of the request latency histogram buckets; +Inf
    // is implied.
    static constexpr std::array<double, 14> kLatencyBuckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

    // route: the route's pattern ("/api/v1/vms/{name}"), never the raw path
    // (the label set stays bounded); "unmatched" for no route.
    void recordRequest(const QString &method, const QString &route, int status, double seconds);
    // One exec finished: through the API (ok: it ran and an exit status came
    // back) or not (error: the request failed).
    void recordExec(bool ok, bool timedOut = false);

    quint64 requestCount(const QString &method, const QString &route, int status) const;
    quint64 execCount() const { return m_execTotal; }
    quint64 execErrorCount() const { return m_execErrors; }

    // vmsByState: every state name with its count (zeros included, so that
    // the series exist from the start).
    QByteArray render(const QMap<QString, int> &vmsByState) const;

    // The exposed ports of every VM, as VmManager counts them (gauges but
    // for the totals since the service started).
    struct PortCounts {
        int active = 0; // listening, the VM runs
        int waiting = 0; // listening, the VM does not run
        int failed = 0; // not listening (the port was taken at a restart)
        int openConnections = 0;
        quint64 connectionsTotal = 0;
        quint64 connectionFailures = 0;
    };
    static QByteArray renderPorts(const PortCounts &ports);

    // The new connections each VM with a NIC made through its egress filter
    // since its network was attached (a counter per VM and verdict).
    struct VmConnectionCounts {
        quint64 allowed = 0;
        quint64 denied = 0;
    };
    static QByteArray renderNetwork(const std::map<QString, VmConnectionCounts> &byVm);

    static QByteArray contentType() { return QByteArrayLiteral("text/plain; version=0.0.4; charset=utf-8"); }

private:
    struct Latency {
        std::array<quint64, kLatencyBuckets.size()> buckets{}; // not cumulative
        quint64 count = 0;
        double sum = 0;
    };
    // (method, route) -> status -> count
    std::map<std::pair<QString, QString>, std::map<int, quint64>> m_requests;
    std::map<std::pair<QString, QString>, Latency> m_latency;
    quint64 m_execTotal = 0;
    quint64 m_execErrors = 0;
    quint64 m_execTimeouts = 0;
};

} // namespace Server
