#pragma once
// Small POSIX helpers shared by the agent: logging, clocks, errno mapping.

#include "protocol/messages.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace GuestAgent {

// Writes "microvm-agent: <message>\n" to stderr (the guest console).
[[gnu::format(printf, 1, 2)]] void logMessage(const char *format, ...);

std::uint64_t monotonicMs();
std::uint64_t monotonicUs();
void markAgentStart();
std::uint64_t agentUptimeMs();

bool setNonBlocking(int fd, bool on);
bool setCloseOnExec(int fd);

// strerror() text for an errno value.
std::string errnoText(int err);
// Protocol error code for an errno value (ENOENT -> NotFound, ...).
Protocol::ErrorCode errorCodeFromErrno(int err);
// "<op> <subject>: <strerror(err)>", e.g. "open /x/y: No such file or directory".
std::string errnoMessage(std::string_view op, std::string_view subject, int err);

// Whole contents of a small file (e.g. under /proc); empty on failure.
std::string readSmallFile(const char *path);
// True if the string holds a NUL byte (not representable in paths or argv).
bool hasNul(std::string_view s);

} // namespace GuestAgent
