#pragma once
// A client's pattern stream sent without blocking, for tests that push until
// TCP stalls them. Bytes generated but not yet taken by the socket stay
// pending for the next call, so the stream never skips.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pattern.hpp"
#include "socket_io.hpp"

namespace sniproxy::integration {

class PatternSender {
 public:
  explicit PatternSender(std::uint64_t seed) : stream_(seed), chunk_(256 * 1024) {}

  // Sends until nothing more goes out for `quiet`, `more` further bytes are
  // taken, or `budget` passes; returns the bytes taken by this call.
  std::uint64_t send(int fd, std::uint64_t more, milliseconds quiet, milliseconds budget);

  // Bytes generated and not yet sent (they go first on the next call).
  [[nodiscard]] std::size_t pending() const { return pending_; }

 private:
  PatternStream stream_;
  std::vector<std::uint8_t> chunk_;
  std::size_t pending_ = 0;
  std::size_t offset_ = 0;
};

}  // namespace sniproxy::integration
