#include "core/vm/hostquota.h"

#include "core/config.h"

#include <QDirIterator>
#include <QFile>

#include <sys/stat.h>

#include <cmath>

namespace Vm {

namespace {

Core::Error over(const QString &limit, qint64 inUse, qint64 asked, qint64 max, const QString &unit)
{
    return Core::Error(Core::ErrorCode::QuotaExceeded,
                       QStringLiteral("quota exceeded: %1: %2%5 in use + %3%5 asked > %4%5 allowed (over by %6%5)")
                           .arg(limit)
                           .arg(inUse)
                           .arg(asked)
                           .arg(max)
                           .arg(unit)
                           .arg(inUse + asked - max));
}

constexpr qint64 kBytesPerGiB = qint64(1) << 30;
constexpr qint64 kMaxCount = 1'000'000;
constexpr qint64 kMaxMemoryMiB = qint64(1) << 40;
constexpr qint64 kMaxDiskGiB = qint64(1) << 30;

// The key's value: the environment's (MVS_<KEY>) over the config file's.
QString pick(const char *key, const QString &fromConfig)
{
    const QString env = qEnvironmentVariable(QByteArray("MVS_" + QByteArray(key).toUpper()).constData());
    return env.isEmpty() ? fromConfig : env;
}

Core::Error badValue(const char *key, const QString &value, const QString &wanted)
{
    return Core::Error(
        Core::ErrorCode::InvalidArgument,
        QStringLiteral("quota %1 (MVS_%2): '%3' is not %4").arg(QLatin1String(key), QString::fromLatin1(QByteArray(key).toUpper()), value.left(40), wanted));
}

// An integer 0..max ("" is 0: no limit).
Core::Expected<qint64> count(const char *key, const QString &fromConfig, qint64 max)
{
    const QString v = pick(key, fromConfig).trimmed();
    if (v.isEmpty())
        return 0;
    bool ok = false;
    const qint64 n = v.toLongLong(&ok);
    if (!ok || n < 0 || n > max)
        return badValue(key, v, QStringLiteral("an integer from 0 to %1").arg(max));
    return n;
}

} // namespace

Core::Expected<QuotaLimits> QuotaLimits::resolve(const Core::Config &config, qint64 hostMemoryMiB)
{
    const QString overcommitText = pick("quota_memory_overcommit", config.quotaMemoryOvercommit).trimmed();
    double overcommit = kDefaultMemoryOvercommit;
    if (!overcommitText.isEmpty()) {
        bool ok = false;
        overcommit = overcommitText.toDouble(&ok);
        if (!ok || !(overcommit > 0) || overcommit > kMaxMemoryOvercommit)
            return badValue("quota_memory_overcommit", overcommitText, QStringLiteral("a number above 0 and at most %1").arg(kMaxMemoryOvercommit));
    }
    QuotaLimits l = withHostMemory(hostMemoryMiB, overcommit);
    const auto vms = count("quota_max_vms", config.quotaMaxVms, kMaxCount);
    const auto vcpus = count("quota_max_vcpus", config.quotaMaxVcpus, kMaxCount);
    const auto memory = count("quota_max_memory_mib", config.quotaMaxMemoryMiB, kMaxMemoryMiB);
    const auto disk = count("quota_max_disk_gib", config.quotaMaxDiskGiB, kMaxDiskGiB);
    for (const auto *r : {&vms, &vcpus, &memory, &disk}) {
        if (!*r)
            return r->error();
    }
    l.maxVms = static_cast<int>(*vms);
    l.maxVcpus = static_cast<int>(*vcpus);
    if (*memory > 0)
        l.maxMemoryMiB = *memory;
    l.maxDiskBytes = *disk * kBytesPerGiB;
    return l;
}

QuotaLimits QuotaLimits::withHostMemory(qint64 hostMemoryMiB, double overcommit)
{
    QuotaLimits l;
    if (hostMemoryMiB > 0 && overcommit > 0)
        l.maxMemoryMiB = static_cast<qint64>(std::floor(static_cast<double>(hostMemoryMiB) * overcommit));
    return l;
}

Core::Result checkCreate(const QuotaLimits &limits, const QuotaUsage &usage, int count)
{
    if (limits.maxVms > 0 && usage.vms + count > limits.maxVms)
        return over(QStringLiteral("vms"), usage.vms, count, limits.maxVms, QString());
    if (limits.maxDiskBytes > 0 && usage.diskBytes >= limits.maxDiskBytes)
        return Core::Error(Core::ErrorCode::QuotaExceeded,
                           QStringLiteral("quota exceeded: disk: the data directory holds %1 bytes, the limit is %2 bytes (over by %3 bytes)")
                               .arg(usage.diskBytes)
                               .arg(limits.maxDiskBytes)
                               .arg(usage.diskBytes - limits.maxDiskBytes));
    return {};
}

Core::Result checkStart(const QuotaLimits &limits, const QuotaUsage &usage, int vcpus, qint64 memoryMiB)
{
    if (limits.maxVcpus > 0 && usage.vcpus + vcpus > limits.maxVcpus)
        return over(QStringLiteral("vcpus"), usage.vcpus, vcpus, limits.maxVcpus, QString());
    if (limits.maxMemoryMiB > 0 && usage.memoryMiB + memoryMiB > limits.maxMemoryMiB)
        return over(QStringLiteral("memory"), usage.memoryMiB, memoryMiB, limits.maxMemoryMiB, QStringLiteral(" MiB"));
    return {};
}

qint64 hostMemoryMiB()
{
    QFile f(QStringLiteral("/proc/meminfo"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (!line.startsWith("MemTotal:"))
            continue;
        const QList<QByteArray> parts = line.simplified().split(' ');
        return parts.size() >= 2 ? parts.at(1).toLongLong() / 1024 : 0;
    }
    return 0;
}

qint64 diskUsageBytes(const QString &dir)
{
    qint64 total = 0;
    QDirIterator it(dir, QDir::Files | QDir::Hidden | QDir::System | QDir::NoSymLinks, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        struct stat st { };
        if (::lstat(QFile::encodeName(it.next()).constData(), &st) == 0)
            total += static_cast<qint64>(st.st_blocks) * 512;
    }
    return total;
}

} // namespace Vm
