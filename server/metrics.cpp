#include "server/metrics.h"

namespace Server {
namespace {

// A label value, escaped as the text format wants (\\, \", \n).
QByteArray label(const QString &value)
{
    QByteArray out;
    for (const char c : value.toUtf8()) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray number(double v)
{
    return QByteArray::number(v, 'g', 12);
}

} // namespace

void Metrics::recordRequest(const QString &method, const QString &route, int status, double seconds)
{
    const auto key = std::make_pair(method, route);
    ++m_requests[key][status];
    Latency &l = m_latency[key];
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        if (seconds <= kLatencyBuckets[i]) {
            ++l.buckets[i];
            break;
        }
    }
    ++l.count;
    l.sum += seconds;
}

void Metrics::recordExec(bool ok, bool timedOut)
{
    ++m_execTotal;
    if (!ok)
        ++m_execErrors;
    if (timedOut)
        ++m_execTimeouts;
}

quint64 Metrics::requestCount(const QString &method, const QString &route, int status) const
{
    const auto it = m_requests.find(std::make_pair(method, route));
    if (it == m_requests.end())
        return 0;
    const auto s = it->second.find(status);
    return s == it->second.end() ? 0 : s->second;
}

QByteArray Metrics::render(const QMap<QString, int> &vmsByState) const
{
    QByteArray out;
    out += "# HELP mvs_vms Managed VMs by state.\n# TYPE mvs_vms gauge\n";
    for (auto it = vmsByState.cbegin(); it != vmsByState.cend(); ++it)
        out += "mvs_vms{state=\"" + label(it.key()) + "\"} " + QByteArray::number(it.value()) + '\n';

    out += "# HELP mvs_http_requests_total API requests answered, by method, route pattern and status.\n"
           "# TYPE mvs_http_requests_total counter\n";
    for (const auto &[key, statuses] : m_requests) {
        for (const auto &[status, count] : statuses)
            out += "mvs_http_requests_total{method=\"" + label(key.first) + "\",route=\"" + label(key.second) + "\",status=\"" + QByteArray::number(status)
                + "\"} " + QByteArray::number(count) + '\n';
    }

    out += "# HELP mvs_http_request_duration_seconds Time from a whole request read to its answer, by method and route pattern.\n"
           "# TYPE mvs_http_request_duration_seconds histogram\n";
    for (const auto &[key, l] : m_latency) {
        const QByteArray labels = "method=\"" + label(key.first) + "\",route=\"" + label(key.second) + '"';
        quint64 cumulative = 0;
        for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
            cumulative += l.buckets[i];
            out +=
                "mvs_http_request_duration_seconds_bucket{" + labels + ",le=\"" + number(kLatencyBuckets[i]) + "\"} " + QByteArray::number(cumulative) + '\n';
        }
        out += "mvs_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + QByteArray::number(l.count) + '\n';
        out += "mvs_http_request_duration_seconds_sum{" + labels + "} " + number(l.sum) + '\n';
        out += "mvs_http_request_duration_seconds_count{" + labels + "} " + QByteArray::number(l.count) + '\n';
    }

    out += "# HELP mvs_exec_total Commands run in guests through the API.\n# TYPE mvs_exec_total counter\n";
    out += "mvs_exec_total " + QByteArray::number(m_execTotal) + '\n';
    out += "# HELP mvs_exec_errors_total Exec requests that failed (no exit status came back).\n# TYPE mvs_exec_errors_total counter\n";
    out += "mvs_exec_errors_total " + QByteArray::number(m_execErrors) + '\n';
    out += "# HELP mvs_exec_timeouts_total Commands killed by their timeout.\n# TYPE mvs_exec_timeouts_total counter\n";
    out += "mvs_exec_timeouts_total " + QByteArray::number(m_execTimeouts) + '\n';
    return out;
}

QByteArray Metrics::renderPorts(const PortCounts &ports)
{
    QByteArray out = "# HELP mvs_exposed_ports Guest ports exposed on the host, by state.\n# TYPE mvs_exposed_ports gauge\n";
    out += "mvs_exposed_ports{state=\"active\"} " + QByteArray::number(ports.active) + '\n';
    out += "mvs_exposed_ports{state=\"waiting\"} " + QByteArray::number(ports.waiting) + '\n';
    out += "mvs_exposed_ports{state=\"failed\"} " + QByteArray::number(ports.failed) + '\n';
    out += "# HELP mvs_port_connections Connections relayed through exposed ports now.\n# TYPE mvs_port_connections gauge\n";
    out += "mvs_port_connections " + QByteArray::number(ports.openConnections) + '\n';
    out += "# HELP mvs_port_connections_total Connections relayed to a guest through exposed ports.\n# TYPE mvs_port_connections_total counter\n";
    out += "mvs_port_connections_total " + QByteArray::number(ports.connectionsTotal) + '\n';
    out += "# HELP mvs_port_connection_failures_total Connections to exposed ports that did not reach the guest or broke (nothing listening "
           "in the guest, the VM not running, the agent lost).\n# TYPE mvs_port_connection_failures_total counter\n";
    out += "mvs_port_connection_failures_total " + QByteArray::number(ports.connectionFailures) + '\n';
    return out;
}

QByteArray Metrics::renderNetwork(const std::map<QString, VmConnectionCounts> &byVm)
{
    QByteArray out = "# HELP mvs_vm_network_connections_total New connections from a VM through its egress filter, by verdict (from the "
                     "start of its network).\n# TYPE mvs_vm_network_connections_total counter\n";
    for (const auto &[vm, counts] : byVm) {
        const QByteArray name = label(vm);
        out += "mvs_vm_network_connections_total{vm=\"" + name + "\",verdict=\"allowed\"} " + QByteArray::number(counts.allowed) + '\n';
        out += "mvs_vm_network_connections_total{vm=\"" + name + "\",verdict=\"denied\"} " + QByteArray::number(counts.denied) + '\n';
    }
    return out;
}

} // namespace Server
