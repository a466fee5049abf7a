// egress_ifindex: the kernel's own route lookup over rtnetlink. Loopback
// addresses leave by "lo" in any namespace (the veth routes are proved by
// tests/quic_tc/quic_fast_path_proxy_test.cpp).
#include "bpf/quic_fast_path/egress_route.hpp"

#include <net/if.h>

#include <gtest/gtest.h>

namespace sniproxy::bpf {
namespace {

TEST(EgressRoute, LoopbackLeavesByLo) {
  const int lo = static_cast<int>(::if_nametoindex("lo"));
  ASSERT_GT(lo, 0);
  auto v4 = egress_ifindex(IpAddress::v4(127, 0, 0, 1), IpAddress::v4(127, 0, 0, 2));
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(*v4, lo);
  // No source: the kernel picks one, as for an unbound socket.
  auto unbound = egress_ifindex(IpAddress{}, IpAddress::v4(127, 0, 0, 1));
  ASSERT_TRUE(unbound.ok()) << unbound.error().message;
  EXPECT_EQ(*unbound, lo);
}

}  // namespace
}  // namespace sniproxy::bpf
