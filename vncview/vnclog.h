#pragma once
// The "vnc" spdlog logger, same pattern and MVS_LOG level as Core::Log's.

#include <spdlog/logger.h>

namespace Vnc::Log {

spdlog::logger *vnc();

} // namespace Vnc::Log
