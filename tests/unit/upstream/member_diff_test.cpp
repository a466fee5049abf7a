// The change between two member lists of a pool, for the
// pool_members_changed log line.
#include "upstream/member_diff.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sniproxy::upstream {
namespace {

config::Pool pool_of_names() {
  config::Pool p;
  p.name = "web";
  p.servers.push_back(config::PoolServer{"10.0.0.1", 443, 1, false, {}});
  p.servers.push_back(config::PoolServer{"web3.internal", 443, 1, false, {}});
  p.servers.push_back(config::PoolServer{"api.internal", 8443, 1, false, {}});
  return p;
}

std::vector<Member> with(const std::map<std::string, std::vector<std::string>>& answers) {
  ResolvedHosts resolved;
  for (const auto& [name, addresses] : answers)
    for (const auto& a : addresses) resolved[name].push_back(*IpAddress::parse(a));
  return members_of(pool_of_names(), resolved);
}

TEST(MemberChanges, TheSameAnswerInAnotherOrderIsNoChange) {
  EXPECT_TRUE(member_changes(with({{"web3.internal", {"10.0.0.3", "10.0.0.2"}}}),
                             with({{"web3.internal", {"10.0.0.2", "10.0.0.3"}}}))
                  .empty());
}

TEST(MemberChanges, AddedAndRemovedAddressesPerServer) {
  const auto changes = member_changes(with({{"web3.internal", {"10.0.0.2", "10.0.0.3"}}}),
                                      with({{"web3.internal", {"10.0.0.3", "10.0.0.4", "10.0.0.5"}},
                                            {"api.internal", {"10.1.0.1"}}}));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].server, "api.internal:8443");
  EXPECT_EQ(changes[0].added, (std::vector<std::string>{"10.1.0.1:8443"}));
  EXPECT_TRUE(changes[0].removed.empty());
  EXPECT_EQ(changes[1].server, "web3.internal:443");
  EXPECT_EQ(changes[1].added, (std::vector<std::string>{"10.0.0.4:443", "10.0.0.5:443"}));
  EXPECT_EQ(changes[1].removed, (std::vector<std::string>{"10.0.0.2:443"}));
}

TEST(MemberChanges, AServerThatLostEveryAddress) {
  const auto changes = member_changes(with({{"web3.internal", {"10.0.0.2"}}}), with({}));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].server, "web3.internal:443");
  EXPECT_TRUE(changes[0].added.empty());
  EXPECT_EQ(changes[0].removed, (std::vector<std::string>{"10.0.0.2:443"}));
}

}  // namespace
}  // namespace sniproxy::upstream
