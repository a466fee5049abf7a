// A pool's published members: versioned snapshots that keep the health of
// members that stay; and when the pools' DNS names are asked again.
#include "proxy/pool_members.hpp"

#include <gtest/gtest.h>

#include "proxy/pool_resolver.hpp"

namespace sniproxy::proxy {
namespace {

using namespace std::chrono_literals;

config::Pool pool() {
  config::Pool p;
  p.name = "web";
  p.servers.push_back(config::PoolServer{"10.0.0.1", 443, 1, false, {}});
  p.servers.push_back(config::PoolServer{"web3.internal", 443, 1, false, {}});
  return p;
}

upstream::ResolvedHosts answer(std::initializer_list<const char*> addresses) {
  upstream::ResolvedHosts hosts;
  for (const char* a : addresses) hosts["web3.internal"].push_back(*IpAddress::parse(a));
  return hosts;
}

TEST(MemberSnapshots, EachHasANewVersionAndMembersThatStayKeepTheirHealth) {
  upstream::HealthTable table;
  const config::Pool p = pool();
  PublishedMembers published(member_snapshot(p, {}, table, false));
  const auto first = published.load();
  ASSERT_EQ(first->members.size(), 1u);  // the name has no answer yet
  EXPECT_EQ(published.version(), first->version);

  published.publish(member_snapshot(p, answer({"10.0.0.3", "10.0.0.4"}), table, true));
  const auto second = published.load();
  EXPECT_GT(published.version(), first->version);
  EXPECT_EQ(published.version(), second->version);
  ASSERT_EQ(second->members.size(), 3u);
  EXPECT_EQ(second->health[0], first->health[0]);  // the IP server stayed
  EXPECT_EQ(second->members[1].key.server, "web3.internal:443");

  // A new answer: the address that stays keeps its MemberHealth.
  published.publish(member_snapshot(p, answer({"10.0.0.4", "10.0.0.5"}), table, true));
  const auto third = published.load();
  ASSERT_EQ(third->members.size(), 3u);
  EXPECT_EQ(third->members[1].key.address, "10.0.0.4:443");
  EXPECT_EQ(third->health[1], second->health[2]);
  EXPECT_EQ(third->members[2].key.address, "10.0.0.5:443");
}

TEST(MemberSnapshots, LaterAddressesWaitForTheirFirstCheck) {
  upstream::HealthTable table;
  config::Pool p = pool();
  p.health.check = config::HealthCheckKind::tcp;
  const auto at_start = member_snapshot(p, answer({"10.0.0.3"}), table, false);
  EXPECT_TRUE(at_start->health[1]->up());  // the first answer starts up, as IP members do
  const auto later = member_snapshot(p, answer({"10.0.0.3", "10.0.0.9"}), table, true);
  EXPECT_TRUE(later->health[1]->up());
  EXPECT_FALSE(later->health[2]->up());  // new: no traffic until checked
}

TEST(PoolDnsSchedule, BackoffDoublesFromOneSecondToThirty) {
  std::chrono::milliseconds b{0};
  std::vector<long> seen;
  for (int i = 0; i < 8; ++i) seen.push_back((b = next_dns_backoff(b)).count());
  EXPECT_EQ(seen, (std::vector<long>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
}

TEST(PoolDnsSchedule, AskedAgainAsTheTtlRunsOutButNotSoonerThanASecond) {
  const auto now = std::chrono::steady_clock::time_point(100s);
  EXPECT_EQ(next_lookup(now + 30s, now), now + 30s);
  EXPECT_EQ(next_lookup(now, now), now + 1s);  // TTL 0
  EXPECT_EQ(next_lookup(now - 5s, now), now + 1s);
}

}  // namespace
}  // namespace sniproxy::proxy
