#include "server/hoststats.h"

#include <QFile>
#include <QProcess>

#include <unistd.h>

namespace Server::HostStats {
namespace {

constexpr qint64 kMaxProcFileBytes = 64 * 1024;
constexpr int kVersionTimeoutMs = 5000;
// Fields of /proc/<pid>/stat after the command's closing parenthesis,
// counted from 0 (field 3, the state, is 0): utime (14) and stime (15).
constexpr int kUtimeAfterComm = 11;
constexpr int kStimeAfterComm = 12;

QByteArray readProcFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.read(kMaxProcFileBytes);
}

// The number of a "Name:   1234 kB" line, in bytes.
std::optional<quint64> kibLine(const QByteArray &text, const QByteArray &name)
{
    for (const QByteArray &line : text.split('\n')) {
        if (!line.startsWith(QByteArray(name + ':')))
            continue;
        const QList<QByteArray> parts = line.mid(name.size() + 1).simplified().split(' ');
        bool ok = false;
        const quint64 kib = parts.value(0).toULongLong(&ok);
        if (!ok)
            return std::nullopt;
        return kib * 1024;
    }
    return std::nullopt;
}

} // namespace

std::optional<double> cpuSecondsFromStat(const QByteArray &stat, long ticksPerSecond)
{
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0 || ticksPerSecond <= 0)
        return std::nullopt;
    const QList<QByteArray> fields = stat.mid(close + 1).simplified().split(' ');
    if (fields.size() <= kStimeAfterComm)
        return std::nullopt;
    bool userOk = false;
    bool systemOk = false;
    const quint64 user = fields.at(kUtimeAfterComm).toULongLong(&userOk);
    const quint64 system = fields.at(kStimeAfterComm).toULongLong(&systemOk);
    if (!userOk || !systemOk)
        return std::nullopt;
    return static_cast<double>(user + system) / static_cast<double>(ticksPerSecond);
}

std::optional<quint64> residentBytesFromStatus(const QByteArray &status)
{
    return kibLine(status, "VmRSS");
}

ProcessSample readProcess(qint64 pid)
{
    if (pid <= 0)
        return {};
    static const long ticksPerSecond = ::sysconf(_SC_CLK_TCK);
    const QString dir = QStringLiteral("/proc/%1/").arg(pid);
    return {cpuSecondsFromStat(readProcFile(dir + QLatin1String("stat")), ticksPerSecond),
            residentBytesFromStatus(readProcFile(dir + QLatin1String("status")))};
}

std::optional<std::array<double, 3>> loadFromLoadavg(const QByteArray &loadavg)
{
    const QList<QByteArray> parts = loadavg.simplified().split(' ');
    if (parts.size() < 3)
        return std::nullopt;
    std::array<double, 3> load{};
    for (size_t i = 0; i < load.size(); ++i) {
        bool ok = false;
        load[i] = parts.at(static_cast<qsizetype>(i)).toDouble(&ok);
        if (!ok)
            return std::nullopt;
    }
    return load;
}

std::optional<Memory> memoryFromMeminfo(const QByteArray &meminfo)
{
    const auto total = kibLine(meminfo, "MemTotal");
    const auto available = kibLine(meminfo, "MemAvailable");
    if (!total || !available)
        return std::nullopt;
    return Memory{*total, *available};
}

std::optional<std::array<double, 3>> readLoad()
{
    return loadFromLoadavg(readProcFile(QStringLiteral("/proc/loadavg")));
}

std::optional<Memory> readMemory()
{
    return memoryFromMeminfo(readProcFile(QStringLiteral("/proc/meminfo")));
}

std::optional<Ksm> ksmFrom(const QByteArray &run, const QByteArray &pagesShared, const QByteArray &pagesSharing)
{
    const QByteArray state = run.trimmed();
    if (state != "0" && state != "1" && state != "2")
        return std::nullopt;
    Ksm k;
    k.running = state == "1";
    k.pagesShared = pagesShared.trimmed().toULongLong();
    k.pagesSharing = pagesSharing.trimmed().toULongLong();
    return k;
}

std::optional<Ksm> readKsm()
{
    const QString dir = QStringLiteral("/sys/kernel/mm/ksm/");
    return ksmFrom(readProcFile(dir + QLatin1String("run")), readProcFile(dir + QLatin1String("pages_shared")),
                   readProcFile(dir + QLatin1String("pages_sharing")));
}

QString binaryVersion(const QString &binary)
{
    if (binary.isEmpty())
        return {};
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(binary, {QStringLiteral("--version")});
    if (!p.waitForFinished(kVersionTimeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {};
    }
    return QString::fromUtf8(p.readAll()).section(QLatin1Char('\n'), 0, 0).trimmed();
}

} // namespace Server::HostStats
