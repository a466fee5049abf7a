// round_robin, least_conn and random_two: how picks spread.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "fixtures.hpp"
#include "upstream/balancer.hpp"

namespace sniproxy::upstream {
namespace {

using testing::balancer_members;
using testing::idle;

std::vector<int> counts(Balancer& b, const std::vector<Candidate>& candidates, int picks) {
  std::vector<int> n(candidates.size(), 0);
  for (int i = 0; i < picks; ++i) {
    auto p = b.pick(PickContext{candidates, 0});
    if (!p) {
      ADD_FAILURE() << "no pick";
      break;
    }
    ++n[*p];
  }
  return n;
}

TEST(RoundRobin, EqualWeightsTakeExactTurns) {
  auto b = make_balancer(config::Balance::round_robin, balancer_members({1, 1, 1}), 0);
  EXPECT_EQ(counts(*b, idle({100, 100, 100}), 300), (std::vector<int>{100, 100, 100}));
}

TEST(RoundRobin, WeightsOneToTwo) {
  auto b = make_balancer(config::Balance::round_robin, balancer_members({1, 2}), 0);
  EXPECT_EQ(counts(*b, idle({100, 200}), 300), (std::vector<int>{100, 200}));
}

TEST(RoundRobin, SmoothNotBursty) {
  // 5:1:1 interleaves: a never more than twice in a row before b or c.
  auto b = make_balancer(config::Balance::round_robin, balancer_members({5, 1, 1}), 0);
  const auto candidates = idle({5, 1, 1});
  std::string order;
  for (int i = 0; i < 7; ++i) order += static_cast<char>('a' + *b->pick({candidates, 0}));
  EXPECT_EQ(order, "aabacaa");
}

TEST(RoundRobin, SkipsIneligibleAndGivesNothingWhenNoneIs) {
  auto b = make_balancer(config::Balance::round_robin, balancer_members({1, 1, 1}), 0);
  auto candidates = idle({1, 1, 1});
  candidates[1].eligible = false;
  EXPECT_EQ(counts(*b, candidates, 100), (std::vector<int>{50, 0, 50}));
  for (auto& c : candidates) c.eligible = false;
  EXPECT_FALSE(b->pick({candidates, 0}).has_value());
}

TEST(LeastConn, PrefersTheLeastLoaded) {
  auto b = make_balancer(config::Balance::least_conn, balancer_members({1, 1, 1}), 0);
  std::vector<Candidate> candidates{{true, 1, 5}, {true, 1, 2}, {true, 1, 7}};
  EXPECT_EQ(b->pick({candidates, 0}), 1u);
  candidates[1].eligible = false;  // tried already
  EXPECT_EQ(b->pick({candidates, 0}), 0u);
}

TEST(LeastConn, LoadIsPerUnitOfWeight) {
  auto b = make_balancer(config::Balance::least_conn, balancer_members({1, 3}), 0);
  // 2/1 > 4/3: the heavier one, though it has more connections.
  std::vector<Candidate> candidates{{true, 100, 2}, {true, 300, 4}};
  EXPECT_EQ(b->pick({candidates, 0}), 1u);
}

TEST(LeastConn, TiesRotateByWeight) {
  auto b = make_balancer(config::Balance::least_conn, balancer_members({1, 1, 1}), 0);
  EXPECT_EQ(counts(*b, idle({1, 1, 1}), 300), (std::vector<int>{100, 100, 100}));
  auto weighted = make_balancer(config::Balance::least_conn, balancer_members({1, 2}), 0);
  EXPECT_EQ(counts(*weighted, idle({1, 2}), 300), (std::vector<int>{100, 200}));
}

TEST(LeastConn, FollowsTheLoadAsItComes) {
  // Each pick opens a connection that stays: the counts stay level.
  auto b = make_balancer(config::Balance::least_conn, balancer_members({1, 1, 1}), 0);
  std::vector<Candidate> candidates{{true, 1, 10}, {true, 1, 0}, {true, 1, 4}};
  for (int i = 0; i < 16; ++i) ++candidates[*b->pick({candidates, 0})].active;
  EXPECT_EQ(candidates[0].active, 10u);
  EXPECT_EQ(candidates[1].active, 10u);
  EXPECT_EQ(candidates[2].active, 10u);
}

TEST(RandomTwo, RoughlyEvenOverManyPicks) {
  auto b = make_balancer(config::Balance::random_two, balancer_members({1, 1, 1, 1}), 42);
  const auto n = counts(*b, idle({1, 1, 1, 1}), 40'000);
  for (int c : n) EXPECT_NEAR(c, 10'000, 600);
}

TEST(RandomTwo, WeightsSetTheShares) {
  auto b = make_balancer(config::Balance::random_two, balancer_members({1, 3}), 7);
  const auto n = counts(*b, idle({100, 300}), 40'000);
  EXPECT_NEAR(n[0], 10'000, 600);
  EXPECT_NEAR(n[1], 30'000, 600);
}

TEST(RandomTwo, OfTwoDrawnTakesTheLessLoaded) {
  // Two members: both are always drawn, so the idle one always wins.
  auto b = make_balancer(config::Balance::random_two, balancer_members({1, 1}), 3);
  std::vector<Candidate> candidates{{true, 1, 9}, {true, 1, 0}};
  EXPECT_EQ(counts(*b, candidates, 100), (std::vector<int>{0, 100}));
}

TEST(RandomTwo, SeedMakesItRepeatable) {
  auto a = make_balancer(config::Balance::random_two, balancer_members({1, 1, 1}), 99);
  auto b = make_balancer(config::Balance::random_two, balancer_members({1, 1, 1}), 99);
  const auto candidates = idle({1, 1, 1});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a->pick({candidates, 0}), b->pick({candidates, 0}));
}

TEST(RandomTwo, OneEligibleOrNone) {
  auto b = make_balancer(config::Balance::random_two, balancer_members({1, 1, 1}), 1);
  auto candidates = idle({1, 1, 1});
  candidates[0].eligible = candidates[2].eligible = false;
  EXPECT_EQ(counts(*b, candidates, 20), (std::vector<int>{0, 20, 0}));
  candidates[1].eligible = false;
  EXPECT_FALSE(b->pick({candidates, 0}).has_value());
}

}  // namespace
}  // namespace sniproxy::upstream
