#include "vncview/vnclog.h"

#include <QByteArray>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace Vnc::Log {

spdlog::logger *vnc()
{
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (auto existing = spdlog::get("vnc"))
        return existing.get();
    auto logger = std::make_shared<spdlog::logger>("vnc", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    const QByteArray env = qgetenv("MVS_LOG");
    logger->set_level(env.isEmpty() ? spdlog::level::warn : spdlog::level::from_str(env.toStdString()));
    logger->set_pattern("%H:%M:%S.%e [%n] %^%l%$ %v");
    spdlog::register_logger(logger);
    return logger.get();
}

} // namespace Vnc::Log
