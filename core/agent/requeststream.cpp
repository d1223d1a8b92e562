#include "core/agent/requeststream.h"

#include "core/agent/agentstream.h"

#include <QTimeZone>

#include <algorithm>

namespace Agent {

QString fileTypeName(FileInfo::Type type)
{
    switch (type) {
    case FileInfo::Type::Regular: return QStringLiteral("file");
    case FileInfo::Type::Directory: return QStringLiteral("directory");
    case FileInfo::Type::Symlink: return QStringLiteral("symlink");
    case FileInfo::Type::CharDevice: return QStringLiteral("char-device");
    case FileInfo::Type::BlockDevice: return QStringLiteral("block-device");
    case FileInfo::Type::Fifo: return QStringLiteral("fifo");
    case FileInfo::Type::Socket: return QStringLiteral("socket");
    case FileInfo::Type::Other: break;
    }
    return QStringLiteral("other");
}

namespace {

QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

FileInfo toFileInfo(const Protocol::FileInfo &p)
{
    FileInfo f;
    f.name = qs(p.name);
    f.type = static_cast<FileInfo::Type>(static_cast<int>(p.type) <= 7 ? static_cast<int>(p.type) : 0);
    f.mode = p.mode;
    f.size = p.size;
    f.mtimeSec = p.mtimeSec;
    f.uid = p.uid;
    f.gid = p.gid;
    f.linkTarget = qs(p.linkTarget);
    return f;
}

} // namespace

bool decodeStat(std::string_view payload, FileInfo *out)
{
    Protocol::StatResult m;
    if (!Protocol::StatResult::decode(payload, &m))
        return false;
    *out = toFileInfo(m.info);
    return true;
}

bool decodeList(std::string_view payload, QList<FileInfo> *out)
{
    Protocol::ListResult m;
    if (!Protocol::ListResult::decode(payload, &m))
        return false;
    out->clear();
    out->reserve(static_cast<qsizetype>(m.entries.size()));
    for (const auto &e : m.entries)
        *out << toFileInfo(e);
    return true;
}

bool decodeHealth(std::string_view payload, Health *out)
{
    Protocol::HealthResult m;
    if (!Protocol::HealthResult::decode(payload, &m))
        return false;
    out->agentVersion = qs(m.agentVersion);
    out->agentUptimeMs = m.agentUptimeMs;
    out->systemUptimeMs = m.systemUptimeMs;
    out->memTotalKiB = m.memTotalKiB;
    out->memAvailableKiB = m.memAvailableKiB;
    out->load1 = m.load1Milli / 1000.0;
    out->cpus = m.cpus;
    out->activeStreams = m.activeStreams;
    out->hostname = qs(m.hostname);
    out->kernel = qs(m.kernel);
    out->interfaces.clear();
    for (const Protocol::InterfaceInfo &i : m.interfaces) {
        GuestInterface g{qs(i.name), qs(i.mac), i.up, {}};
        for (const std::string &a : i.addresses)
            g.addresses << qs(a);
        out->interfaces << g;
    }
    return true;
}

namespace {

QDateTime fromUnixMs(std::uint64_t ms)
{
    return ms ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(std::min<std::uint64_t>(ms, std::uint64_t(1) << 52)), QTimeZone::utc()) : QDateTime();
}

ProcessInfo toProcessInfo(const Protocol::ProcessState &p)
{
    ProcessInfo info;
    info.pid = p.pid;
    for (const std::string &arg : p.command)
        info.command << guestText(arg);
    info.running = p.running;
    if (!p.running && p.signal != 0)
        info.signal = p.signal;
    else if (!p.running)
        info.exitCode = p.exitCode;
    info.startedAt = fromUnixMs(p.startedMs);
    info.endedAt = p.running ? QDateTime() : fromUnixMs(p.endedMs);
    return info;
}

} // namespace

bool decodeProcess(std::string_view payload, ProcessInfo *out)
{
    Protocol::ProcessState m;
    if (!Protocol::ProcessState::decode(payload, &m))
        return false;
    *out = toProcessInfo(m);
    return true;
}

bool decodeProcesses(std::string_view payload, QList<ProcessInfo> *out)
{
    Protocol::ProcessListResult m;
    if (!Protocol::ProcessListResult::decode(payload, &m))
        return false;
    out->clear();
    for (const Protocol::ProcessState &p : m.processes)
        *out << toProcessInfo(p);
    return true;
}

bool decodeProcessOutput(std::string_view payload, ProcessOutput *out)
{
    Protocol::ProcessOutput m;
    if (!Protocol::ProcessOutput::decode(payload, &m))
        return false;
    out->process = toProcessInfo(m.state);
    out->stdoutData = QByteArray(m.stdoutData.data(), qsizetype(m.stdoutData.size()));
    out->stderrData = QByteArray(m.stderrData.data(), qsizetype(m.stderrData.size()));
    out->stdoutOffset = m.stdoutOffset;
    out->stderrOffset = m.stderrOffset;
    out->truncated = m.truncated;
    return true;
}

} // namespace Agent
