#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace Core::Log {
namespace {

std::shared_ptr<spdlog::sinks::sink> sharedSink()
{
    static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    return sink;
}

spdlog::level::level_enum envLevel()
{
    const QByteArray env = qgetenv("MVS_LOG");
    return env.isEmpty() ? spdlog::level::warn : spdlog::level::from_str(env.toStdString());
}

spdlog::logger *get(const char *name)
{
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (auto existing = spdlog::get(name))
        return existing.get();
    auto logger = std::make_shared<spdlog::logger>(name, sharedSink());
    logger->set_level(envLevel());
    logger->set_pattern("%H:%M:%S.%e [%n] %^%l%$ %v");
    spdlog::register_logger(logger);
    return logger.get();
}

} // namespace

spdlog::logger *core()
{
    return get("core");
}
spdlog::logger *vmm()
{
    return get("vmm");
}
spdlog::logger *agent()
{
    return get("agent");
}
spdlog::logger *image()
{
    return get("image");
}

void setLevel(const QString &level)
{
    const auto lvl = spdlog::level::from_str(level.toStdString());
    core();
    vmm();
    agent();
    image();
    spdlog::apply_all([lvl](const std::shared_ptr<spdlog::logger> &l) { l->set_level(lvl); });
}

} // namespace Core::Log
