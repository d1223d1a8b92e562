#pragma once
// The service's counters, rendered in the Prometheus text format 0.0.4.
// Plain C++ over Qt Core: HttpAdapter feeds it (one call per answered
// request), GuestController (one call per exec, HTTP or WebSocket alike);
// MetaController renders it for GET /metrics with the VM counts.

#include "core/vm/hostquota.h"

#include <QByteArray>
#include <QMap>
#include <QString>

#include <array>
#include <optional>
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

    // Per-VM series, label vm="name". A VM's series go with forgetVm() (the
    // VM deleted); at most kMaxVmSeries VMs have them, work of others is
    // counted in mvs_vm_series_dropped_total only.
    static constexpr size_t kMaxVmSeries = 512;
    // Upper bounds (seconds) of the boot and restore histograms.
    static constexpr std::array<double, 12> kBootBuckets{0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300};
    enum class Transfer { Upload, Download };
    // One exec of the VM that ran (an exit status came back), with its
    // stdout and stderr bytes.
    void recordVmExec(const QString &vm, quint64 outputBytes);
    void recordVmTransfer(const QString &vm, Transfer direction, quint64 bytes);
    void recordVmSnapshot(const QString &vm, quint64 bytes);
    // A start (spawn to agent ready) or a restore (request to running).
    void recordVmBoot(const QString &vm, double seconds);
    void recordVmRestore(const QString &vm, double seconds);
    void forgetVm(const QString &vm);
    bool hasVmSeries(const QString &vm) const { return m_vms.count(vm) > 0; }
    quint64 vmExecCount(const QString &vm) const;

    // What is read about a VM when /metrics is asked: its VMM process
    // (/proc) and its guest's memory (the agent's health); each unknown
    // when it could not be read (the VM does not run, an old agent).
    struct VmLive {
        std::optional<double> vmmCpuSeconds;
        std::optional<quint64> vmmResidentBytes;
        std::optional<quint64> guestMemTotalBytes;
        std::optional<quint64> guestMemAvailableBytes;
        std::optional<quint64> networkReceivedBytes;
        std::optional<quint64> networkSentBytes;
    };
    QByteArray renderVms(const std::map<QString, VmLive> &live) const;

    // The data directory's file system.
    struct Disk {
        quint64 totalBytes = 0;
        quint64 availableBytes = 0;
    };
    static QByteArray renderDisk(const Disk &disk);

    // The host's quotas: mvs_quota_limit for the limits that are set and
    // mvs_quota_usage, by resource (vms, vcpus, memory_mib, disk_bytes: the
    // disk only while it is limited).
    static QByteArray renderQuota(const Vm::QuotaLimits &limits, const Vm::QuotaUsage &usage);

    static QByteArray contentType() { return QByteArrayLiteral("text/plain; version=0.0.4; charset=utf-8"); }

private:
    struct Latency {
        std::array<quint64, kLatencyBuckets.size()> buckets{}; // not cumulative
        quint64 count = 0;
        double sum = 0;
    };
    struct BootHistogram {
        std::array<quint64, kBootBuckets.size()> buckets{}; // not cumulative
        quint64 count = 0;
        double sum = 0;
        void add(double seconds);
    };
    struct VmSeries {
        quint64 execs = 0;
        quint64 execOutputBytes = 0;
        std::array<quint64, 2> transfers{}; // by Transfer
        std::array<quint64, 2> transferBytes{};
        quint64 snapshots = 0;
        quint64 snapshotBytes = 0;
        BootHistogram boot;
        BootHistogram restore;
    };
    // The VM's series, made on first use; null past kMaxVmSeries.
    VmSeries *series(const QString &vm);
    static void renderBootHistogram(QByteArray &out, const char *name, const QByteArray &vmLabel, const BootHistogram &h);
    std::map<QString, VmSeries> m_vms;
    quint64 m_vmSeriesDropped = 0;
    // (method, route) -> status -> count
    std::map<std::pair<QString, QString>, std::map<int, quint64>> m_requests;
    std::map<std::pair<QString, QString>, Latency> m_latency;
    quint64 m_execTotal = 0;
    quint64 m_execErrors = 0;
    quint64 m_execTimeouts = 0;
};

} // namespace Server
