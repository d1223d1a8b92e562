#pragma once
// What the guest agent answers, as core types.

#include <QString>

namespace Agent {

struct AgentInfo {
    QString agentVersion;
    QString bootId;
    quint32 maxPayload = 0;
};

struct FileInfo {
    enum class Type { Other, Regular, Directory, Symlink, CharDevice, BlockDevice, Fifo, Socket };
    QString name;
    Type type = Type::Other;
    quint32 mode = 0;
    quint64 size = 0;
    qint64 mtimeSec = 0;
    quint32 uid = 0;
    quint32 gid = 0;
    QString linkTarget;
};
QString fileTypeName(FileInfo::Type type);

struct Health {
    QString agentVersion;
    quint64 agentUptimeMs = 0;
    quint64 systemUptimeMs = 0;
    quint64 memTotalKiB = 0;
    quint64 memAvailableKiB = 0;
    double load1 = 0;
    quint32 cpus = 0;
    quint32 activeStreams = 0;
    QString hostname;
    QString kernel;
};

} // namespace Agent
