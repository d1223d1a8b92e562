#pragma once
// Facts about the guest: boot id, health figures, stat/list of paths.

#include "protocol/messages.h"

#include <cstdint>
#include <string>
#include <vector>

namespace GuestAgent {

// /proc/sys/kernel/random/boot_id without the newline; empty if unavailable.
std::string bootId();

Protocol::HealthResult collectHealth(std::uint32_t activeStreams);

// lstat() of path into info (name = path). 0 or an errno value.
int statPath(const std::string &path, Protocol::FileInfo *info);

// Entries of a directory sorted by name, without "." and "..". 0 or an errno value.
int listDirectory(const std::string &path, std::vector<Protocol::FileInfo> *entries);

} // namespace GuestAgent
