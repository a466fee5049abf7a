// A pool's members: servers expanded to their addresses, with stable keys.
#include <gtest/gtest.h>

#include "upstream/member.hpp"

namespace sniproxy::upstream {
namespace {

config::Pool pool() {
  config::Pool p;
  p.name = "web";
  p.servers.push_back(config::PoolServer{"10.0.0.1", 443, 1, false, {}});
  p.servers.push_back(config::PoolServer{"web3.internal", 443, 2, true, {}});
  p.servers.push_back(config::PoolServer{"2001:db8::1", 8443, 1, false, {}});
  return p;
}

TEST(Members, NamesStandForAllTheirAddresses) {
  ResolvedHosts resolved;
  resolved["web3.internal"] = {*IpAddress::parse("10.0.0.4"), *IpAddress::parse("10.0.0.3"),
                               *IpAddress::parse("10.0.0.4")};
  const auto members = members_of(pool(), resolved);
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0].key.to_string(), "web/10.0.0.1:443/10.0.0.1:443");
  EXPECT_EQ(members[1].key.to_string(), "web/web3.internal:443/10.0.0.3:443");
  EXPECT_EQ(members[2].key.to_string(), "web/web3.internal:443/10.0.0.4:443");
  EXPECT_EQ(members[3].key.to_string(), "web/[2001:db8::1]:8443/[2001:db8::1]:8443");
  EXPECT_EQ(members[1].weight, 2u);
  EXPECT_TRUE(members[1].backup);
  EXPECT_EQ(members[2].endpoint.to_string(), "10.0.0.4:443");
  EXPECT_FALSE(members[0].backup);
}

TEST(Members, AnUnresolvedNameHasNone) {
  const auto members = members_of(pool(), {});
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[1].endpoint.to_string(), "[2001:db8::1]:8443");
}

TEST(Members, IdsFollowKeys) {
  ResolvedHosts one, other_order;
  one["web3.internal"] = {*IpAddress::parse("10.0.0.3"), *IpAddress::parse("10.0.0.4")};
  other_order["web3.internal"] = {*IpAddress::parse("10.0.0.4"), *IpAddress::parse("10.0.0.3")};
  const auto a = members_of(pool(), one);
  const auto b = members_of(pool(), other_order);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
  EXPECT_NE(a[1].id, a[2].id);
}

}  // namespace
}  // namespace sniproxy::upstream
