#pragma once
// Diagnostics go through spdlog (never translated). One logger per area.
// Level from MVS_LOG (trace, debug, info, warn, error, off; default warn).
// Format: text (default) or JSON lines (setFormat, MVS_LOG_FORMAT=json):
// one object per line with time, level, category, message and, when the
// line's work was started by an API request, request_id and vm (see
// core/logcontext.h).

#include "core/logcontext.h"

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include <QByteArray>
#include <QDateTime>
#include <QString>

#include <memory>
#include <optional>

namespace Core::Log {

spdlog::logger *core();
spdlog::logger *vmm();
spdlog::logger *agent();
spdlog::logger *image();
spdlog::logger *api(); // the service: one line per answered request

void setLevel(const QString &level);

enum class Format { Text, Json };
// "text" or "json"; nullopt for anything else.
std::optional<Format> formatFromName(const QString &name);
// For every logger, made or to come.
void setFormat(Format format);
Format format();

// One log line as a JSON object, without the newline: {"time" (UTC, ISO
// 8601 with milliseconds), "level", "category", "message", "request_id" and
// "vm" when the context has them}.
QByteArray jsonLine(const QDateTime &time, const QString &level, const QString &category, const QString &message, const Context &context);
// The formatter of Format::Json (jsonLine() and a newline, in the logging
// thread's context).
std::unique_ptr<spdlog::formatter> makeJsonFormatter();

} // namespace Core::Log
