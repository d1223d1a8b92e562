#include "app/clioptions.h"

#include "core/config.h"
#include "core/log.h"

namespace App {

Core::Expected<bool> takeOption(QStringList &args, const QString &name, QString *value)
{
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if (a == QLatin1String("--"))
            return false;
        if (a == name) {
            if (i + 1 >= args.size())
                return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("%1 needs a value").arg(name));
            *value = args.at(i + 1);
            args.remove(i, 2);
            return true;
        }
        if (a.startsWith(name + QLatin1Char('='))) {
            *value = a.mid(name.size() + 1);
            args.removeAt(i);
            return true;
        }
    }
    return false;
}

Core::Result takeOptions(QStringList &args, std::initializer_list<std::pair<QString, QString *>> options)
{
    for (const auto &[name, value] : options)
        if (auto r = takeOption(args, name, value); !r)
            return r.error();
    return {};
}

Core::Result DriverFlags::take(QStringList &args)
{
    auto config = Core::Config::load();
    if (!config)
        return config.error();
    auto pick = [](const char *env, const QString &fromConfig) {
        const QString v = qEnvironmentVariable(env);
        return v.isEmpty() ? fromConfig : v;
    };
    driver = pick("MVS_DRIVER", config->driver);
    accel = pick("MVS_ACCEL", config->accel);
    qemuBinary = pick("MVS_QEMU", config->qemuBinary);
    chBinary = pick("MVS_CLOUD_HYPERVISOR", config->chBinary);
    for (auto [flag, target] : {std::pair{QStringLiteral("--driver"), &driver}, std::pair{QStringLiteral("--accel"), &accel},
                                std::pair{QStringLiteral("--qemu-binary"), &qemuBinary}, std::pair{QStringLiteral("--ch-binary"), &chBinary}}) {
        auto r = takeOption(args, flag, target);
        if (!r)
            return r.error();
    }
    return {};
}

Core::Expected<Vmm::DriverOptions> DriverFlags::options() const
{
    auto kind = Vmm::parseDriverKind(driver);
    if (!kind)
        return kind.error();
    Vmm::DriverOptions o;
    o.kind = *kind;
    o.qemuBinary = qemuBinary;
    o.chBinary = chBinary;
    o.accel = accel.isEmpty() ? QStringLiteral("auto") : accel;
    return o;
}

Core::Result ServiceFlags::take(QStringList &args)
{
    if (auto r = driver.take(args); !r)
        return r;
    for (auto [flag, target] : {std::pair{QStringLiteral("--listen"), &listen}, std::pair{QStringLiteral("--token-file"), &tokenFile},
                                std::pair{QStringLiteral("--log-format"), &logFormat}}) {
        if (auto r = takeOption(args, flag, target); !r)
            return r.error();
    }
    if (!logFormat.isEmpty()) {
        const auto format = Core::Log::formatFromName(logFormat);
        if (!format)
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("--log-format must be text or json, not %1").arg(logFormat));
        Core::Log::setFormat(*format);
    }
    return {};
}

} // namespace App
