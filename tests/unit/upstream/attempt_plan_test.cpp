// One connection's attempts: first pick, then retries, never one member twice.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "fixtures.hpp"
#include "upstream/attempt_plan.hpp"

namespace sniproxy::upstream {
namespace {

using std::chrono::seconds;
using testing::member;

using testing::kT0;

std::vector<Member> members(std::uint32_t n) {
  std::vector<Member> out;
  for (std::uint32_t i = 0; i < n; ++i) out.push_back(member(i));
  return out;
}

constexpr config::Balance kAll[] = {config::Balance::round_robin, config::Balance::least_conn,
                                    config::Balance::random_two, config::Balance::hash_source,
                                    config::Balance::hash_name};

TEST(AttemptPlan, NeverTheSameMemberTwice) {
  for (auto balance : kAll) {
    PoolBalancer b(balance, members(5), Millis(0), 3);
    const std::vector<MemberStatus> status(5);
    for (std::uint64_t hash = 0; hash < 50; ++hash) {
      AttemptPlan plan(10, hash * 0x9e3779b97f4a7c15ULL);
      std::set<std::size_t> seen;
      while (auto m = plan.next(b, status, kT0)) EXPECT_TRUE(seen.insert(*m).second);
      // Every member once, then nothing is left.
      EXPECT_EQ(seen.size(), 5u);
      EXPECT_EQ(plan.attempts(), 5u);
    }
  }
}

TEST(AttemptPlan, RetriesBoundTheAttempts) {
  PoolBalancer b(config::Balance::round_robin, members(5), Millis(0), 3);
  const std::vector<MemberStatus> status(5);
  AttemptPlan plan(2, 0);
  EXPECT_TRUE(plan.next(b, status, kT0));
  EXPECT_TRUE(plan.next(b, status, kT0));
  EXPECT_TRUE(plan.next(b, status, kT0));
  EXPECT_FALSE(plan.next(b, status, kT0));
  EXPECT_EQ(plan.attempts(), 3u);
  AttemptPlan none(0, 0);
  EXPECT_TRUE(none.next(b, status, kT0));
  EXPECT_FALSE(none.next(b, status, kT0));
}

TEST(AttemptPlan, DownMembersAreNotTried) {
  PoolBalancer b(config::Balance::round_robin, members(3), Millis(0), 3);
  std::vector<MemberStatus> status(3);
  status[1].up = false;
  AttemptPlan plan(5, 0);
  std::set<std::size_t> seen;
  while (auto m = plan.next(b, status, kT0)) seen.insert(*m);
  EXPECT_EQ(seen, (std::set<std::size_t>{0, 2}));
}

TEST(AttemptPlan, HashFailoverIsTheSameForTheSameKey) {
  // Two connections of one client whose first server fails go to the same
  // second server.
  PoolBalancer b(config::Balance::hash_source, members(6), Millis(0), 3);
  const std::vector<MemberStatus> status(6);
  for (std::uint64_t hash = 1; hash < 40; ++hash) {
    AttemptPlan first(2, hash * 0x9e3779b97f4a7c15ULL);
    AttemptPlan second(2, hash * 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(first.next(b, status, kT0), second.next(b, status, kT0));
  }
}

TEST(AttemptPlan, SurvivesARebuildBetweenAttempts) {
  // A new DNS answer rebuilds the worker's balancer, in another order:
  // the member tried first is still skipped.
  PoolBalancer before(config::Balance::round_robin, members(3), Millis(0), 3);
  AttemptPlan plan(5, 0);
  const auto first = plan.next(before, std::vector<MemberStatus>(3), kT0);
  ASSERT_TRUE(first.has_value());
  const std::uint64_t first_id = before.members()[*first].id;
  auto reordered = members(3);
  std::swap(reordered[0], reordered[2]);
  PoolBalancer after(config::Balance::round_robin, reordered, Millis(0), 3);
  while (auto m = plan.next(after, std::vector<MemberStatus>(3), kT0))
    EXPECT_NE(after.members()[*m].id, first_id);
  EXPECT_EQ(plan.attempts(), 3u);
}

}  // namespace
}  // namespace sniproxy::upstream
