#include "core/config.h"

#include "core/paths.h"

#include <QFile>

#include <yaml-cpp/yaml.h>

namespace Core {

QString Config::path()
{
    return Paths::configDir() + QStringLiteral("/config.yaml");
}

namespace {

QString *quotaField(Config &c, const QString &key)
{
    if (key == QLatin1String("quota_max_vms"))
        return &c.quotaMaxVms;
    if (key == QLatin1String("quota_max_vcpus"))
        return &c.quotaMaxVcpus;
    if (key == QLatin1String("quota_max_memory_mib"))
        return &c.quotaMaxMemoryMiB;
    if (key == QLatin1String("quota_memory_overcommit"))
        return &c.quotaMemoryOvercommit;
    if (key == QLatin1String("quota_max_disk_gib"))
        return &c.quotaMaxDiskGiB;
    return nullptr;
}

} // namespace

Expected<Config> Config::load(const QString &path)
{
    Config c;
    QFile f(path);
    if (!f.exists())
        return c;
    if (!f.open(QIODevice::ReadOnly))
        return Error(ErrorCode::Io, QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
    try {
        const YAML::Node root = YAML::Load(f.readAll().toStdString());
        if (root.IsNull())
            return c;
        if (!root.IsMap())
            return Error(ErrorCode::InvalidArgument, QStringLiteral("%1: the top level must be a mapping").arg(path));
        for (const auto &kv : root) {
            const QString key = QString::fromStdString(kv.first.as<std::string>());
            const QString value = QString::fromStdString(kv.second.as<std::string>());
            if (key == QLatin1String("driver"))
                c.driver = value;
            else if (key == QLatin1String("accel"))
                c.accel = value;
            else if (key == QLatin1String("qemu_binary"))
                c.qemuBinary = value;
            else if (key == QLatin1String("cloud_hypervisor_binary"))
                c.chBinary = value;
            else if (key == QLatin1String("warm_start"))
                c.warmStart = value;
            else if (key == QLatin1String("idle_pause_after_s"))
                c.idlePauseAfterS = value;
            else if (key == QLatin1String("pool"))
                c.pool = value;
            else if (key == QLatin1String("idle_action"))
                c.idleAction = value;
            else if (QString *quota = quotaField(c, key))
                *quota = value;
            else
                return Error(ErrorCode::InvalidArgument, QStringLiteral("%1: unknown key '%2'").arg(path, key));
        }
    } catch (const YAML::Exception &e) {
        return Error(ErrorCode::InvalidArgument, QStringLiteral("%1: %2").arg(path, QString::fromStdString(e.what())));
    }
    return c;
}

Expected<bool> Config::warmStartEnabled() const
{
    const QString env = qEnvironmentVariable("MVS_WARM_START");
    const QString value = (env.isEmpty() ? warmStart : env).trimmed().toLower();
    if (value.isEmpty() || value == QLatin1String("on") || value == QLatin1String("true") || value == QLatin1String("yes"))
        return true;
    if (value == QLatin1String("off") || value == QLatin1String("false") || value == QLatin1String("no"))
        return false;
    return Error(
        ErrorCode::InvalidArgument,
        QStringLiteral("warm_start%1 must be on or off, not '%2'").arg(env.isEmpty() ? QString() : QStringLiteral(" (MVS_WARM_START)"), value.left(40)));
}

Expected<qint64> Config::idlePauseAfterMs() const
{
    constexpr qint64 kMaxS = 7 * 24 * 3600;
    const QString env = qEnvironmentVariable("MVS_IDLE_PAUSE_AFTER_S");
    const QString value = (env.isEmpty() ? idlePauseAfterS : env).trimmed();
    if (value.isEmpty())
        return 0;
    bool ok = false;
    const qint64 s = value.toLongLong(&ok);
    if (!ok || s < 0 || s > kMaxS)
        return Error(ErrorCode::InvalidArgument,
                     QStringLiteral("idle_pause_after_s%1 must be whole seconds from 0 (off) to %2, not '%3'")
                         .arg(env.isEmpty() ? QString() : QStringLiteral(" (MVS_IDLE_PAUSE_AFTER_S)"))
                         .arg(kMaxS)
                         .arg(value.left(40)));
    return s * 1000;
}

QString Config::idleActionText() const
{
    const QString env = qEnvironmentVariable("MVS_IDLE_ACTION");
    return env.isEmpty() ? idleAction : env;
}

QString Config::poolTargets() const
{
    const QString env = qEnvironmentVariable("MVS_POOL");
    return env.isEmpty() ? pool : env;
}

} // namespace Core
