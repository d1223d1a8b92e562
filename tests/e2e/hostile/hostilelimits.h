#pragma once
// What the hostile guest programs do, in numbers the host-side suite
// (tst_hostileguest) checks against. Plain C++, no Qt: the static guest
// programs include it too.

#include <cstdint>

namespace Hostile {

// announce-spam: Announces for this long without reading, then the queued
// Hellos are read and counted for kDrainMs.
inline constexpr int kSpamMs = 10000;
inline constexpr int kDrainMs = 3000;
// overfeed: the size a file get declares, and how many times that it sends.
inline constexpr std::uint64_t kOverfeedDeclared = 1u << 20;
inline constexpr std::uint64_t kOverfeedFactor = 16;

// hostile-rfb: the side of the square screen it announces, RFB's largest.
inline constexpr unsigned kHugeRfbSide = 65535;

} // namespace Hostile
