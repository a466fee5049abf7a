#pragma once
// Userspace timers for one worker: the loop waits on the ring until the
// earliest deadline, then fires what is due. Cancellation is by id and lazy.
#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace sniproxy::reactor {

using Clock = std::chrono::steady_clock;

class TimerQueue {
 public:
  using Id = std::uint64_t;
  Id schedule(Clock::time_point when, std::function<void()> fn);
  void cancel(Id id);
  // Runs every timer due at `now`.
  void fire_due(Clock::time_point now);
  // Time until the earliest live timer, capped at `cap`.
  [[nodiscard]] std::chrono::milliseconds wait_time(Clock::time_point now,
                                                    std::chrono::milliseconds cap) const;
  [[nodiscard]] std::size_t size() const { return live_.size(); }

 private:
  struct Entry {
    Clock::time_point when;
    Id id;
    bool operator>(const Entry& o) const { return when > o.when; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<Id, std::function<void()>> live_;
  Id next_id_ = 1;
};

}  // namespace sniproxy::reactor
