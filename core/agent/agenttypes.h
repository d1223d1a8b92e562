#pragma once
// What the guest agent answers, as core types.

#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

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

// One guest network interface (not lo), as its agent reports it.
struct GuestInterface {
    QString name;
    QString mac;
    bool up = false;
    QStringList addresses; // "10.213.0.2/30"
};

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
    QList<GuestInterface> interfaces; // empty from an agent that predates them
};

// A background process of the guest (AgentClient::startProcess).
struct ProcessInfo {
    qint32 pid = 0;
    QStringList command;
    bool running = true;
    std::optional<int> exitCode; // when it exited
    std::optional<int> signal; // when a signal ended it
    QDateTime startedAt; // UTC
    QDateTime endedAt; // invalid while running
};

// What a read of a background process's output returns: the bytes from the
// offsets asked for, the offsets to read from next, and whether bytes
// before them were dropped (the guest keeps the last ones only).
struct ProcessOutput {
    ProcessInfo process;
    QByteArray stdoutData;
    QByteArray stderrData;
    quint64 stdoutOffset = 0;
    quint64 stderrOffset = 0;
    bool truncated = false;
};

} // namespace Agent
