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

// The first line of `<binary> --version` (blocking, bounded: run it on a
// worker); empty when it does not run.
QString binaryVersion(const QString &binary);

} // namespace Server::HostStats
