#include "core/vmm/detachedvmm.h"

#include <QFile>
#include <QList>

#include <unistd.h>

namespace Vmm {

namespace {

Core::Error stale(const QString &why)
{
    return Core::Error(Core::ErrorCode::NotFound, why);
}

} // namespace

QJsonObject DetachedVmm::toJson() const
{
    return QJsonObject{
        {QStringLiteral("driver"), driver},
        {QStringLiteral("pid"), pid},
        // A string: clock ticks since boot can exceed a double's exact range
        // only in theory, but a string is never rounded.
        {QStringLiteral("pid_start_time"), QString::number(startTime)},
        {QStringLiteral("runtime_dir"), runtimeDir},
        {QStringLiteral("qmp_socket"), apiSocket},
        {QStringLiteral("agent_socket"), agentSocket},
        {QStringLiteral("accel"), accel},
        {QStringLiteral("manager_pid"), managerPid},
        {QStringLiteral("manager_start_time"), QString::number(managerStartTime)},
    };
}

Core::Expected<DetachedVmm> DetachedVmm::fromJson(const QJsonObject &o)
{
    DetachedVmm d;
    d.driver = o.value(QStringLiteral("driver")).toString();
    d.pid = o.value(QStringLiteral("pid")).toInteger();
    bool ok = false;
    d.startTime = o.value(QStringLiteral("pid_start_time")).toString().toULongLong(&ok);
    d.runtimeDir = o.value(QStringLiteral("runtime_dir")).toString();
    d.apiSocket = o.value(QStringLiteral("qmp_socket")).toString();
    d.agentSocket = o.value(QStringLiteral("agent_socket")).toString();
    d.accel = o.value(QStringLiteral("accel")).toString();
    d.managerPid = o.value(QStringLiteral("manager_pid")).toInteger();
    d.managerStartTime = o.value(QStringLiteral("manager_start_time")).toString().toULongLong();
    if (d.pid <= 0 || !ok || d.runtimeDir.isEmpty() || d.apiSocket.isEmpty() || d.agentSocket.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("running_vmm needs pid, pid_start_time, runtime_dir, qmp_socket and agent_socket"));
    return d;
}

namespace {

// The fields of /proc/<pid>/stat from field 3 (state) on, or nothing when the
// process does not exist or is a zombie. "pid (comm) state ppid ...": comm
// may hold spaces and parentheses, so the fields start after the last ')'.
std::optional<QList<QByteArray>> statFields(qint64 pid)
{
    if (pid <= 0)
        return std::nullopt;
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QByteArray s = f.read(4096);
    const qsizetype close = s.lastIndexOf(')');
    if (close < 0)
        return std::nullopt;
    QList<QByteArray> fields = s.mid(close + 2).split(' ');
    if (fields.isEmpty() || fields.at(0) == "Z" || fields.at(0) == "X")
        return std::nullopt;
    return fields;
}

// Field n of proc(5) (1-based), as a number.
std::optional<quint64> statField(const QList<QByteArray> &fields, int n)
{
    constexpr int kFirst = 3; // statFields() starts at the state
    if (fields.size() <= n - kFirst)
        return std::nullopt;
    bool ok = false;
    const quint64 v = fields.at(n - kFirst).toULongLong(&ok);
    return ok ? std::optional<quint64>(v) : std::nullopt;
}

} // namespace

std::optional<quint64> processStartTime(qint64 pid)
{
    constexpr int kStartTime = 22;
    const auto fields = statFields(pid);
    return fields ? statField(*fields, kStartTime) : std::nullopt;
}

std::optional<qint64> processCpuMs(qint64 pid)
{
    constexpr int kUtime = 14;
    constexpr int kStime = 15;
    static const qint64 ticksPerSecond = qMax<long>(1, ::sysconf(_SC_CLK_TCK));
    const auto fields = statFields(pid);
    if (!fields)
        return std::nullopt;
    const auto user = statField(*fields, kUtime);
    const auto system = statField(*fields, kStime);
    if (!user || !system)
        return std::nullopt;
    return static_cast<qint64>((*user + *system) * 1000 / static_cast<quint64>(ticksPerSecond));
}

bool DetachedVmm::managedElsewhere() const
{
    if (managerPid <= 0 || managerPid == ::getpid())
        return false;
    const auto start = processStartTime(managerPid);
    return start && *start == managerStartTime;
}

void DetachedVmm::setManagedHere()
{
    managerPid = ::getpid();
    managerStartTime = processStartTime(managerPid).value_or(0);
}

Core::Result DetachedVmm::checkAlive(const QString &vmName) const
{
    const auto start = processStartTime(pid);
    if (!start)
        return stale(QStringLiteral("process %1 is gone").arg(pid));
    if (*start != startTime)
        return stale(QStringLiteral("pid %1 now belongs to another process (started at %2, not %3)").arg(pid).arg(*start).arg(startTime));
    QFile f(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return stale(QStringLiteral("cannot read the command line of process %1").arg(pid));
    // NUL-separated arguments; QEMU gets "-name guest=<name>,debug-threads=on".
    const QList<QByteArray> args = f.readAll().split('\0');
    const QByteArray want = QByteArrayLiteral("guest=") + vmName.toUtf8();
    for (const QByteArray &a : args) {
        for (const QByteArray &part : a.split(',')) {
            if (part == want)
                return {};
        }
    }
    return stale(QStringLiteral("process %1 is not the VMM of %2 (no %3 in its command line)").arg(pid).arg(vmName, QString::fromUtf8(want)));
}

} // namespace Vmm
