#include "reactor/timer_queue.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sniproxy::reactor {
namespace {
using namespace std::chrono_literals;

TEST(TimerQueue, FiresDueInOrderAndSkipsCancelled) {
  TimerQueue q;
  const auto t0 = Clock::now();
  std::vector<int> fired;
  q.schedule(t0 + 20ms, [&] { fired.push_back(2); });
  auto id = q.schedule(t0 + 10ms, [&] { fired.push_back(1); });
  q.schedule(t0 + 5ms, [&] { fired.push_back(0); });
  q.cancel(id);
  EXPECT_EQ(q.wait_time(t0, 1000ms), 5ms);
  q.fire_due(t0 + 15ms);
  EXPECT_EQ(fired, std::vector<int>{0});
  EXPECT_EQ(q.wait_time(t0 + 15ms, 1000ms), 5ms);
  q.fire_due(t0 + 25ms);
  EXPECT_EQ(fired, (std::vector<int>{0, 2}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.wait_time(t0, 7ms), 7ms);
}

TEST(TimerQueue, TimerMayScheduleAnother) {
  TimerQueue q;
  const auto t0 = Clock::now();
  int count = 0;
  q.schedule(t0, [&] {
    ++count;
    q.schedule(t0 + 1h, [&] { ++count; });
  });
  q.fire_due(t0);
  EXPECT_EQ(count, 1);
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace sniproxy::reactor
