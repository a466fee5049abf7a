#pragma once
// Slow start: a server that comes back up gets a share that grows over
// `slow_start`, so a cold cache or a JIT is not handed its full load at once.
#include <cstdint>
#include <optional>

#include "upstream/time.hpp"

namespace sniproxy::upstream {

// Effective weights are in hundredths of a configured weight, so a ramp
// has steps even for weight 1.
inline constexpr std::uint32_t kWeightScale = 100;

// The weight a member balances with at `now`: weight * kWeightScale, or
// while less than `slow_start` has passed since `up_since`, a share of it
// growing linearly from a tenth. No ramp when slow_start is 0 or the member
// never came back up (up_since is nullopt).
std::uint32_t effective_weight(std::uint32_t weight, Millis slow_start,
                               std::optional<TimePoint> up_since, TimePoint now);

}  // namespace sniproxy::upstream
