#pragma once
// What `[forwarding] auto_sockmap = true` watches for: a long-lived
// exchange of small messages back and forth, the traffic the sockmap serves
// best (no proxy thread wakes per message) while its dearer set-up and its
// slow bulk path make it the wrong choice for short connections and streams
// (forwarding_choice.hpp has the figures). Pure: fed every receive of both
// directions, it says when the connection has shown enough of that.
#include <cstdint>

namespace sniproxy::proxy {

class ExchangeWatch {
 public:
  // `turns_needed`: changes of direction before ready() (0: never ready).
  explicit ExchangeWatch(std::uint32_t turns_needed) : needed_(turns_needed) {}

  // A receive of `direction` (0: client -> backend, 1: back) that took
  // bytes; `filled_buffer`: it took a whole buffer, so more were waiting.
  void received(int direction, bool filled_buffer) {
    if (filled_buffer) {
      // A stream, or a message too big to be small: start counting again.
      turns_ = 0;
    } else if (last_ != kNone && last_ != direction && turns_ < needed_) {
      // A message may take several receives; only the change of direction
      // is a turn (a round trip is two).
      ++turns_;
    }
    last_ = direction;
  }

  // After a failed or abandoned move: the same evidence again before the
  // next try.
  void restart() {
    turns_ = 0;
    last_ = kNone;
  }

  [[nodiscard]] bool ready() const { return needed_ != 0 && turns_ >= needed_; }
  [[nodiscard]] std::uint32_t turns() const { return turns_; }

 private:
  static constexpr int kNone = -1;
  std::uint32_t needed_;
  std::uint32_t turns_ = 0;
  int last_ = kNone;
};

}  // namespace sniproxy::proxy
