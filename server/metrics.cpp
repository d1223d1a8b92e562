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

QByteArray Metrics::renderQuota(const Vm::QuotaLimits &limits, const Vm::QuotaUsage &usage)
{
    const std::array<std::pair<const char *, qint64>, 4> limit{
        {{"vms", limits.maxVms}, {"vcpus", limits.maxVcpus}, {"memory_mib", limits.maxMemoryMiB}, {"disk_bytes", limits.maxDiskBytes}}};
    QByteArray out = "# HELP mvs_quota_limit The host's quota, by resource (only those set; vcpus and memory_mib bound the VMs that hold a VMM).\n"
                     "# TYPE mvs_quota_limit gauge\n";
    for (const auto &[resource, value] : limit) {
        if (value > 0)
            out += QByteArray("mvs_quota_limit{resource=\"") + resource + "\"} " + QByteArray::number(value) + '\n';
    }
    out += "# HELP mvs_quota_usage What the VMs hold against the host's quota, by resource.\n# TYPE mvs_quota_usage gauge\n";
    out += "mvs_quota_usage{resource=\"vms\"} " + QByteArray::number(usage.vms) + '\n';
    out += "mvs_quota_usage{resource=\"vcpus\"} " + QByteArray::number(usage.vcpus) + '\n';
    out += "mvs_quota_usage{resource=\"memory_mib\"} " + QByteArray::number(usage.memoryMiB) + '\n';
    if (limits.maxDiskBytes > 0)
        out += "mvs_quota_usage{resource=\"disk_bytes\"} " + QByteArray::number(usage.diskBytes) + '\n';
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

namespace Server {

void Metrics::BootHistogram::add(double seconds)
{
    for (size_t i = 0; i < kBootBuckets.size(); ++i) {
        if (seconds <= kBootBuckets[i]) {
            ++buckets[i];
            break;
        }
    }
    ++count;
    sum += seconds;
}

Metrics::VmSeries *Metrics::series(const QString &vm)
{
    auto it = m_vms.find(vm);
    if (it != m_vms.end())
        return &it->second;
    if (m_vms.size() >= kMaxVmSeries) {
        ++m_vmSeriesDropped;
        return nullptr;
    }
    return &m_vms[vm];
}

void Metrics::recordVmExec(const QString &vm, quint64 outputBytes)
{
    if (VmSeries *s = series(vm)) {
        ++s->execs;
        s->execOutputBytes += outputBytes;
    }
}

void Metrics::recordVmTransfer(const QString &vm, Transfer direction, quint64 bytes)
{
    if (VmSeries *s = series(vm)) {
        ++s->transfers[static_cast<size_t>(direction)];
        s->transferBytes[static_cast<size_t>(direction)] += bytes;
    }
}

void Metrics::recordVmSnapshot(const QString &vm, quint64 bytes)
{
    if (VmSeries *s = series(vm)) {
        ++s->snapshots;
        s->snapshotBytes += bytes;
    }
}

void Metrics::recordVmBoot(const QString &vm, double seconds)
{
    if (VmSeries *s = series(vm))
        s->boot.add(seconds);
}

void Metrics::recordVmRestore(const QString &vm, double seconds)
{
    if (VmSeries *s = series(vm))
        s->restore.add(seconds);
}

void Metrics::forgetVm(const QString &vm)
{
    m_vms.erase(vm);
}

quint64 Metrics::vmExecCount(const QString &vm) const
{
    const auto it = m_vms.find(vm);
    return it == m_vms.end() ? 0 : it->second.execs;
}

void Metrics::renderBootHistogram(QByteArray &out, const char *name, const QByteArray &vmLabel, const BootHistogram &h)
{
    const QByteArray n(name);
    quint64 cumulative = 0;
    for (size_t i = 0; i < kBootBuckets.size(); ++i) {
        cumulative += h.buckets[i];
        out += n + "_bucket{" + vmLabel + ",le=\"" + number(kBootBuckets[i]) + "\"} " + QByteArray::number(cumulative) + '\n';
    }
    out += n + "_bucket{" + vmLabel + ",le=\"+Inf\"} " + QByteArray::number(h.count) + '\n';
    out += n + "_sum{" + vmLabel + "} " + number(h.sum) + '\n';
    out += n + "_count{" + vmLabel + "} " + QByteArray::number(h.count) + '\n';
}

namespace {

// "# HELP" and "# TYPE" of one family.
QByteArray family(const char *name, const char *type, const char *help)
{
    return QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
}

QByteArray vmLabel(const QString &vm)
{
    return "vm=\"" + label(vm) + '"';
}

// One gauge or counter sample per VM that has a value.
template<typename Value>
void samples(QByteArray &out, const char *name, const std::map<QString, Value> &byVm)
{
    for (const auto &[vm, value] : byVm)
        out += QByteArray(name) + '{' + vmLabel(vm) + "} " + value + '\n';
}

} // namespace

QByteArray Metrics::renderVms(const std::map<QString, VmLive> &live) const
{
    std::map<QString, QByteArray> cpu, rss, memTotal, memAvailable, netIn, netOut;
    for (const auto &[vm, l] : live) {
        if (l.networkReceivedBytes)
            netIn[vm] = QByteArray::number(*l.networkReceivedBytes);
        if (l.networkSentBytes)
            netOut[vm] = QByteArray::number(*l.networkSentBytes);
        if (l.vmmCpuSeconds)
            cpu[vm] = number(*l.vmmCpuSeconds);
        if (l.vmmResidentBytes)
            rss[vm] = QByteArray::number(*l.vmmResidentBytes);
        if (l.guestMemTotalBytes)
            memTotal[vm] = QByteArray::number(*l.guestMemTotalBytes);
        if (l.guestMemAvailableBytes)
            memAvailable[vm] = QByteArray::number(*l.guestMemAvailableBytes);
    }
    QByteArray out = family("mvs_vm_vmm_cpu_seconds_total", "counter", "CPU time (user and system) of the VM's VMM process.");
    samples(out, "mvs_vm_vmm_cpu_seconds_total", cpu);
    out += family("mvs_vm_vmm_resident_memory_bytes", "gauge", "Resident memory of the VM's VMM process.");
    samples(out, "mvs_vm_vmm_resident_memory_bytes", rss);
    out += family("mvs_vm_guest_memory_total_bytes", "gauge", "Memory the guest kernel has, as its agent reports it.");
    samples(out, "mvs_vm_guest_memory_total_bytes", memTotal);
    out += family("mvs_vm_guest_memory_available_bytes", "gauge", "Memory available in the guest, as its agent reports it.");
    samples(out, "mvs_vm_guest_memory_available_bytes", memAvailable);
    out +=
        family("mvs_vm_network_receive_bytes_total", "counter", "Bytes the VM received through its NIC (its tap's transmit), from the start of its network.");
    samples(out, "mvs_vm_network_receive_bytes_total", netIn);
    out += family("mvs_vm_network_transmit_bytes_total", "counter", "Bytes the VM sent through its NIC (its tap's receive), from the start of its network.");
    samples(out, "mvs_vm_network_transmit_bytes_total", netOut);

    std::map<QString, QByteArray> execs, execBytes, snaps, snapBytes;
    for (const auto &[vm, s] : m_vms) {
        execs[vm] = QByteArray::number(s.execs);
        execBytes[vm] = QByteArray::number(s.execOutputBytes);
        snaps[vm] = QByteArray::number(s.snapshots);
        snapBytes[vm] = QByteArray::number(s.snapshotBytes);
    }
    out += family("mvs_vm_exec_total", "counter", "Commands run in the VM through the API that came back with an exit status.");
    samples(out, "mvs_vm_exec_total", execs);
    out += family("mvs_vm_exec_output_bytes_total", "counter", "Bytes of stdout and stderr those commands returned.");
    samples(out, "mvs_vm_exec_output_bytes_total", execBytes);
    out += family("mvs_vm_transfers_total", "counter", "File transfers to (upload) and from (download) the VM through the API.");
    for (const auto &[vm, s] : m_vms) {
        out += "mvs_vm_transfers_total{" + vmLabel(vm) + ",direction=\"upload\"} " + QByteArray::number(s.transfers[0]) + '\n';
        out += "mvs_vm_transfers_total{" + vmLabel(vm) + ",direction=\"download\"} " + QByteArray::number(s.transfers[1]) + '\n';
    }
    out += family("mvs_vm_transfer_bytes_total", "counter", "Bytes of those transfers (a download counts the size the guest declared).");
    for (const auto &[vm, s] : m_vms) {
        out += "mvs_vm_transfer_bytes_total{" + vmLabel(vm) + ",direction=\"upload\"} " + QByteArray::number(s.transferBytes[0]) + '\n';
        out += "mvs_vm_transfer_bytes_total{" + vmLabel(vm) + ",direction=\"download\"} " + QByteArray::number(s.transferBytes[1]) + '\n';
    }
    out += family("mvs_vm_snapshots_total", "counter", "Snapshots taken of the VM.");
    samples(out, "mvs_vm_snapshots_total", snaps);
    out += family("mvs_vm_snapshot_bytes_total", "counter", "Bytes of those snapshots (memory, devices and disk).");
    samples(out, "mvs_vm_snapshot_bytes_total", snapBytes);
    out += family("mvs_vm_boot_duration_seconds", "histogram", "VM starts: VMM spawn to the guest agent's answer.");
    for (const auto &[vm, s] : m_vms)
        renderBootHistogram(out, "mvs_vm_boot_duration_seconds", vmLabel(vm), s.boot);
    out += family("mvs_vm_restore_duration_seconds", "histogram", "Snapshot restores: request to the VM running again.");
    for (const auto &[vm, s] : m_vms)
        renderBootHistogram(out, "mvs_vm_restore_duration_seconds", vmLabel(vm), s.restore);
    out += family("mvs_vm_series_dropped_total", "counter", "Work of VMs past the per-VM series limit, not counted per VM.");
    out += "mvs_vm_series_dropped_total " + QByteArray::number(m_vmSeriesDropped) + '\n';
    return out;
}

QByteArray Metrics::renderDisk(const Disk &disk)
{
    QByteArray out = family("mvs_data_dir_size_bytes", "gauge", "Size of the file system holding the data directory.");
    out += "mvs_data_dir_size_bytes " + QByteArray::number(disk.totalBytes) + '\n';
    out += family("mvs_data_dir_available_bytes", "gauge", "Space available to the service on that file system.");
    out += "mvs_data_dir_available_bytes " + QByteArray::number(disk.availableBytes) + '\n';
    return out;
}

} // namespace Server
