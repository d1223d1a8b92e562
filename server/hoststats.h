#pragma once
// What the service reads about processes and the host from /proc, for
// /metrics (a VMM's CPU time and resident memory) and GET /api/v1/system
// (load, memory). The parsers are pure; read*() open the files.

#include <QByteArray>
#include <QString>

#include <array>
#include <optional>

namespace Server::HostStats {

struct ProcessSample {
    std::optional<double> cpuSeconds; // user + system
    std::optional<quint64> residentBytes;
};

// /proc/<pid>/stat: utime + stime in seconds (ticks per second given).
std::optional<double> cpuSecondsFromStat(const QByteArray &stat, long ticksPerSecond);
// /proc/<pid>/status: VmRSS in bytes.
std::optional<quint64> residentBytesFromStatus(const QByteArray &status);
ProcessSample readProcess(qint64 pid);

// /proc/loadavg: the 1, 5 and 15 minute load.
std::optional<std::array<double, 3>> loadFromLoadavg(const QByteArray &loadavg);
struct Memory {
    quint64 totalBytes = 0;
    quint64 availableBytes = 0;
};
// /proc/meminfo: MemTotal and MemAvailable.
std::optional<Memory> memoryFromMeminfo(const QByteArray &meminfo);
std::optional<std::array<double, 3>> readLoad();
std::optional<Memory> readMemory();

// Kernel same-page merging (/sys/kernel/mm/ksm): whether it runs, and how
// many pages it shares. QEMU marks guest memory mergeable (its mem-merge
// default), so identical pages of idle guests are shared while it runs.
struct Ksm {
    bool running = false; // run = 1
    quint64 pagesShared = 0; // distinct pages kept
    quint64 pagesSharing = 0; // pages mapped onto them (the saving)
};
// The contents of run, pages_shared and pages_sharing; nullopt when run is
// not 0, 1 or 2 (2: unmerge everything, counts as not running).
std::optional<Ksm> ksmFrom(const QByteArray &run, const QByteArray &pagesShared, const QByteArray &pagesSharing);
// nullopt: no KSM in this kernel.
std::optional<Ksm> readKsm();

// The first line of `<binary> --version` (blocking, bounded: run it on a
// worker); empty when it does not run.
QString binaryVersion(const QString &binary);

} // namespace Server::HostStats
