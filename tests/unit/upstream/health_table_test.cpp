// Health shared between threads, and kept for members that stay.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "upstream/health_table.hpp"

namespace sniproxy::upstream {
namespace {

using std::chrono::seconds;

using testing::kT0;
const HealthSettings kSettings{true, 2, 3, Millis(2000)};

MemberKey key(const std::string& address) {
  return MemberKey{"web", "web.internal:443", address};
}

TEST(MemberHealth, PublishesWhatTheStateSays) {
  MemberHealth h(HealthSettings{false, 1, 1, Millis(2000)});
  EXPECT_TRUE(h.up());
  EXPECT_TRUE(h.eligible(kT0));
  ASSERT_TRUE(h.on_connect_result(false, kT0));
  EXPECT_FALSE(h.up());
  EXPECT_FALSE(h.eligible(kT0 + seconds(1)));
  EXPECT_TRUE(h.eligible(kT0 + seconds(2)));
  ASSERT_TRUE(h.on_connect_result(true, kT0 + seconds(2)));
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.up_since(), kT0 + seconds(2));
  EXPECT_EQ(h.snapshot().up_since(), kT0 + seconds(2));
  const MemberStatus status = h.status(7, kT0 + seconds(3));
  EXPECT_TRUE(status.up);
  EXPECT_EQ(status.up_since, kT0 + seconds(2));
  EXPECT_EQ(status.active, 7u);
}

TEST(MemberHealth, ASuccessAfterFailuresStillResetsTheCount) {
  MemberHealth h(kSettings);
  h.on_connect_result(false, kT0);
  h.on_connect_result(false, kT0);
  h.on_connect_result(true, kT0);
  h.on_connect_result(false, kT0);
  h.on_connect_result(false, kT0);
  EXPECT_TRUE(h.up());
}

TEST(MemberHealth, ManyThreadsOneTransition) {
  MemberHealth h(HealthSettings{true, 2, 100, Millis(2000)});
  std::atomic<int> downs{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (auto tr = h.on_connect_result(false, kT0); tr && !tr->up) ++downs;
        (void)h.eligible(kT0);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(downs.load(), 1);
  EXPECT_FALSE(h.up());
}

TEST(HealthTable, MembersThatStayKeepTheirState) {
  HealthTable table;
  auto a = table.acquire(key("10.0.0.1:443"), kSettings);
  auto b = table.acquire(key("10.0.0.2:443"), kSettings);
  for (int i = 0; i < 3; ++i) a->on_check(false, kT0);
  ASSERT_FALSE(a->up());
  // A reload: the new member list is acquired while the old one lives.
  const HealthSettings reloaded{true, 1, 3, Millis(1000)};
  auto a2 = table.acquire(key("10.0.0.1:443"), reloaded);
  auto c2 = table.acquire(key("10.0.0.3:443"), reloaded);
  EXPECT_EQ(a2, a);
  EXPECT_FALSE(a2->up());
  EXPECT_TRUE(c2->up());
  EXPECT_EQ(a2->snapshot().settings().rise, 1u);
  // The old list goes; 10.0.0.2 is no member any more.
  a.reset();
  b.reset();
  EXPECT_EQ(table.live().size(), 2u);
  EXPECT_EQ(table.prune(), 1u);
  // A member that comes back later starts afresh.
  EXPECT_TRUE(table.acquire(key("10.0.0.2:443"), kSettings)->up());
}

TEST(HealthTable, KeysArePerPoolAndServer) {
  HealthTable table;
  auto a = table.acquire(MemberKey{"web", "10.0.0.1:443", "10.0.0.1:443"}, kSettings);
  auto b = table.acquire(MemberKey{"api", "10.0.0.1:443", "10.0.0.1:443"}, kSettings);
  EXPECT_NE(a, b);
  EXPECT_EQ(MemberKey({"web", "w:443", "10.0.0.1:443"}).to_string(), "web/w:443/10.0.0.1:443");
}

}  // namespace
}  // namespace sniproxy::upstream
