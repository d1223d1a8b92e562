#pragma once
// Diagnostics go through spdlog (never translated). One logger per area.
// Level from MVS_LOG (trace, debug, info, warn, error, off; default warn).

#include <spdlog/logger.h>

#include <QString>

#include <memory>

namespace Core::Log {

spdlog::logger *core();
spdlog::logger *vmm();
spdlog::logger *agent();
spdlog::logger *image();

void setLevel(const QString &level);

} // namespace Core::Log
