#include "bpf/sockmap/sockmap_flow.hpp"

#include <algorithm>

namespace sniproxy::bpf {

std::uint64_t unflushed_bytes(std::uint64_t redirected, std::uint64_t consumed,
                              std::uint64_t peer_written) {
  std::uint64_t taken = redirected + consumed;
  return taken > peer_written ? taken - peer_written : 0;
}

bool all_forwarded(const ForwardState& state, const ForwardControl& control,
                   std::uint64_t forwarded, std::uint64_t received, bool fin) {
  return received == state.redirected + state.passed + (fin ? 1 : 0) &&
         state.passed == control.consumed &&
         unflushed_bytes(state.redirected, control.consumed, forwarded) == 0;
}

std::uint64_t resume_limit(std::uint64_t redirected, std::uint64_t cap, std::uint64_t unflushed) {
  return unflushed >= cap ? redirected : redirected + (cap - unflushed);
}

std::chrono::microseconds next_look(std::uint64_t headroom, std::uint64_t moved,
                                    std::chrono::microseconds elapsed,
                                    std::chrono::microseconds previous) {
  using std::chrono::microseconds;
  constexpr microseconds kShortest{1'000};
  constexpr microseconds kIdleFirst{10'000};
  constexpr microseconds kLongest{1'000'000};
  if (moved == 0) return std::min(std::max(previous, kIdleFirst / 2) * 2, kLongest);
  // Half the headroom at the current rate: headroom / 2 / (moved / elapsed).
  const double micros = static_cast<double>(headroom) / 2.0 *
                        static_cast<double>(std::max<std::int64_t>(elapsed.count(), 1)) /
                        static_cast<double>(moved);
  if (micros >= static_cast<double>(kLongest.count())) return kLongest;
  return std::max(kShortest, microseconds(static_cast<std::int64_t>(micros)));
}

}  // namespace sniproxy::bpf
