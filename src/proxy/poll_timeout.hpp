#pragma once
// poll(2)'s timeout for a loop that waits until `until` (max: no deadline),
// shared by the threads that run their own poll loops (health checks, the
// pools' DNS lookups).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>

namespace sniproxy::proxy {

inline int poll_timeout_ms(std::chrono::steady_clock::time_point now,
                           std::chrono::steady_clock::time_point until) {
  if (until == std::chrono::steady_clock::time_point::max()) return -1;
  if (until <= now) return 0;
  // Rounded up, so the loop does not spin through a sub-millisecond remainder.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

}  // namespace sniproxy::proxy
