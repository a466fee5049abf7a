#include "reactor/timer_queue.hpp"

namespace sniproxy::reactor {

TimerQueue::Id TimerQueue::schedule(Clock::time_point when, std::function<void()> fn) {
  const Id id = next_id_++;
  live_.emplace(id, std::move(fn));
  heap_.push({when, id});
  return id;
}

void TimerQueue::cancel(Id id) {
  live_.erase(id);
}

void TimerQueue::fire_due(Clock::time_point now) {
  while (!heap_.empty() && heap_.top().when <= now) {
    const Id id = heap_.top().id;
    heap_.pop();
    auto it = live_.find(id);
    if (it == live_.end()) continue;  // cancelled
    auto fn = std::move(it->second);
    live_.erase(it);
    fn();
  }
  // Drop cancelled entries at the top so wait_time() sees a live deadline.
  while (!heap_.empty() && !live_.contains(heap_.top().id)) heap_.pop();
}

std::chrono::milliseconds TimerQueue::wait_time(Clock::time_point now,
                                                std::chrono::milliseconds cap) const {
  if (heap_.empty()) return cap;
  auto until = std::chrono::ceil<std::chrono::milliseconds>(heap_.top().when - now);
  if (until < std::chrono::milliseconds(0)) return std::chrono::milliseconds(0);
  return until < cap ? until : cap;
}

}  // namespace sniproxy::reactor
