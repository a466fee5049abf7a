// A pool's balancing as a worker does it: backups, health, slow start.
#include <gtest/gtest.h>

#include <vector>

#include "config/names.hpp"
#include "fixtures.hpp"
#include "upstream/pool_balancer.hpp"

namespace sniproxy::upstream {
namespace {

using std::chrono::seconds;
using testing::member;

using testing::kT0;

// Two primaries (0, 1) and two backups (2, 3).
PoolBalancer with_backups(config::Balance balance = config::Balance::round_robin) {
  return PoolBalancer(balance, {member(0), member(1), member(2, 1, true), member(3, 1, true)},
                      Millis(0), 1);
}

std::vector<int> counts(PoolBalancer& b, const std::vector<MemberStatus>& status, int picks,
                        TimePoint now = kT0) {
  std::vector<int> n(status.size(), 0);
  for (int i = 0; i < picks; ++i) {
    auto p = b.pick(status, {}, static_cast<std::uint64_t>(i) * 0x9e3779b97f4a7c15ULL, now);
    if (!p) return n;
    ++n[*p];
  }
  return n;
}

TEST(PoolBalancer, BackupsOnlyWhenNoPrimaryIsUp) {
  for (auto balance :
       {config::Balance::round_robin, config::Balance::least_conn, config::Balance::random_two,
        config::Balance::hash_source, config::Balance::hash_name}) {
    auto b = with_backups(balance);
    std::vector<MemberStatus> status(4);
    auto n = counts(b, status, 200);
    EXPECT_EQ(n[2] + n[3], 0) << config::to_string(balance);
    EXPECT_GT(n[0], 0);
    EXPECT_GT(n[1], 0);
    status[0].up = false;
    n = counts(b, status, 200);
    EXPECT_EQ(n, (std::vector<int>{0, 200, 0, 0}));
    status[1].up = false;
    n = counts(b, status, 200);
    EXPECT_EQ(n[0] + n[1], 0);
    EXPECT_GT(n[2], 0);  // the policy applies among the backups too
    EXPECT_GT(n[3], 0);
    status[2].up = status[3].up = false;
    EXPECT_FALSE(b.pick(status, {}, 0, kT0).has_value());
  }
}

TEST(PoolBalancer, BackupsWhenEveryPrimaryWasTried) {
  auto b = with_backups();
  std::vector<MemberStatus> status(4);
  const std::vector<std::uint64_t> tried{b.members()[0].id, b.members()[1].id};
  auto p = b.pick(status, tried, 0, kT0);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(b.members()[*p].backup);
}

TEST(PoolBalancer, OnlyBackupsServe) {
  PoolBalancer b(config::Balance::round_robin, {member(0, 1, true), member(1, 1, true)}, Millis(0),
                 1);
  EXPECT_EQ(counts(b, std::vector<MemberStatus>(2), 100), (std::vector<int>{50, 50}));
}

TEST(PoolBalancer, WeightsHonoured) {
  PoolBalancer b(config::Balance::round_robin, {member(0, 1), member(1, 2)}, Millis(0), 1);
  EXPECT_EQ(counts(b, std::vector<MemberStatus>(2), 300), (std::vector<int>{100, 200}));
}

TEST(PoolBalancer, SlowStartRampsAReturningMember) {
  PoolBalancer b(config::Balance::round_robin, {member(0), member(1)}, Millis(30'000), 1);
  std::vector<MemberStatus> status(2);
  status[1].up_since = kT0;  // just came back: a tenth of the weight
  auto n = counts(b, status, 1100, kT0);
  EXPECT_EQ(n, (std::vector<int>{1000, 100}));
  n = counts(b, status, 1500, kT0 + seconds(15));  // half
  EXPECT_EQ(n, (std::vector<int>{1000, 500}));
  n = counts(b, status, 1000, kT0 + seconds(30));  // full
  EXPECT_EQ(n, (std::vector<int>{500, 500}));
}

TEST(PoolBalancer, LeastConnReadsTheActiveCounts) {
  PoolBalancer b(config::Balance::least_conn, {member(0), member(1), member(2)}, Millis(0), 1);
  std::vector<MemberStatus> status(3);
  status[0].active = 3;
  status[1].active = 1;
  status[2].active = 2;
  EXPECT_EQ(b.pick(status, {}, 0, kT0), 1u);
}

TEST(PoolBalancer, WrongStatusSizeNoPick) {
  auto b = with_backups();
  EXPECT_FALSE(b.pick(std::vector<MemberStatus>(3), {}, 0, kT0).has_value());
}

TEST(PoolBalancer, NoMembersNoPick) {
  PoolBalancer b(config::Balance::hash_source, {}, Millis(0), 1);
  EXPECT_FALSE(b.pick({}, {}, 0, kT0).has_value());
}

}  // namespace
}  // namespace sniproxy::upstream
