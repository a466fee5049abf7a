#include "dns/address_order.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "answers.hpp"

namespace sniproxy::dns {
namespace {

using config::AddressPreference;
using testing::texts;

Addresses mixed() {
  return {*IpAddress::parse("2001:db8::1"), *IpAddress::parse("192.0.2.1"),
          *IpAddress::parse("2001:db8::2"), *IpAddress::parse("192.0.2.2")};
}

TEST(DnsAddressOrder, Ipv4FirstKeepsOrderWithinEachFamily) {
  auto r = order_addresses(mixed(), AddressPreference::ipv4_first, "x.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(texts(r),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"}));
}

TEST(DnsAddressOrder, Ipv6First) {
  auto r = order_addresses(mixed(), AddressPreference::ipv6_first, "x.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(texts(r),
            (std::vector<std::string>{"2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"}));
}

TEST(DnsAddressOrder, OnlyPreferencesFilter) {
  auto v4 = order_addresses(mixed(), AddressPreference::ipv4_only, "x.test");
  ASSERT_TRUE(v4);
  EXPECT_EQ(texts(v4), (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  auto v6 = order_addresses(mixed(), AddressPreference::ipv6_only, "x.test");
  ASSERT_TRUE(v6);
  EXPECT_EQ(texts(v6), (std::vector<std::string>{"2001:db8::1", "2001:db8::2"}));
}

TEST(DnsAddressOrder, EmptyAfterFilteringNamesTheMissingFamily) {
  Addresses only_v6 = {*IpAddress::parse("2001:db8::1")};
  auto r = order_addresses(only_v6, AddressPreference::ipv4_only, "x.test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "no IPv4 address for x.test");
  Addresses only_v4 = {*IpAddress::parse("192.0.2.1")};
  auto r6 = order_addresses(only_v4, AddressPreference::ipv6_only, "x.test");
  ASSERT_FALSE(r6);
  EXPECT_EQ(r6.error().message, "no IPv6 address for x.test");
  auto none = order_addresses({}, AddressPreference::ipv4_first, "x.test");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "no address for x.test");
}

TEST(DnsAddressOrder, QueryFamilyFollowsPreference) {
  EXPECT_EQ(query_family(AddressPreference::ipv4_first), AF_UNSPEC);
  EXPECT_EQ(query_family(AddressPreference::ipv6_first), AF_UNSPEC);
  EXPECT_EQ(query_family(AddressPreference::ipv4_only), AF_INET);
  EXPECT_EQ(query_family(AddressPreference::ipv6_only), AF_INET6);
}

}  // namespace
}  // namespace sniproxy::dns
