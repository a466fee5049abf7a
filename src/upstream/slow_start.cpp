#include "upstream/slow_start.hpp"

#include <algorithm>

namespace sniproxy::upstream {

std::uint32_t effective_weight(std::uint32_t weight, Millis slow_start,
                               std::optional<TimePoint> up_since, TimePoint now) {
  const std::uint64_t full = std::uint64_t{weight} * kWeightScale;
  if (slow_start.count() <= 0 || !up_since || now >= *up_since + slow_start)
    return static_cast<std::uint32_t>(full);
  // Milliseconds: no overflow for any slow_start a config can hold.
  const auto elapsed = std::chrono::duration_cast<Millis>(now - *up_since);
  const std::uint64_t ramped =
      full * static_cast<std::uint64_t>(std::max<Millis::rep>(0, elapsed.count())) /
      static_cast<std::uint64_t>(slow_start.count());
  const std::uint64_t floor = std::max<std::uint64_t>(1, full / 10);
  return static_cast<std::uint32_t>(std::max(ramped, floor));
}

}  // namespace sniproxy::upstream
