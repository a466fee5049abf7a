// What the running proxy keeps: CAP_NET_RAW for source_address = "client"
// (IP_TRANSPARENT) and only then, CAP_NET_ADMIN instead only when that is
// all it holds, nothing more when [xdp] keeps CAP_NET_ADMIN anyway.
#include <gtest/gtest.h>
#include <linux/capability.h>

#include "app/privileges.hpp"

namespace sniproxy::app {
namespace {

// (privileges.cpp shares this unity file: names of their own.)
constexpr std::uint64_t kAll = ~std::uint64_t{0};
constexpr std::uint64_t kNetRaw = std::uint64_t{1} << CAP_NET_RAW;
constexpr std::uint64_t kNetAdmin = std::uint64_t{1} << CAP_NET_ADMIN;

config::Config with_listener_source(std::optional<config::SourceAddress> source) {
  config::Config c;
  c.dns.bpf_mirror = false;
  config::Listener l;
  l.source = source;
  c.listeners.push_back(l);
  return c;
}

config::Config with_route_client() {
  config::Config c = with_listener_source(std::nullopt);
  config::Route route;
  route.target.kind = config::Target::Kind::backend;
  route.target.source = config::SourceAddress{true, {}};
  c.tables["t"].routes.push_back(route);
  return c;
}

TEST(CapabilitiesNeededTest, NoClientSourceKeepsNeitherNetCapability) {
  for (const auto& source : {std::optional<config::SourceAddress>{},
                             std::optional<config::SourceAddress>{
                                 config::SourceAddress{false, *IpAddress::parse("10.0.0.1")}}}) {
    const std::uint64_t keep = capabilities_needed(with_listener_source(source), kAll);
    EXPECT_EQ(keep & (kNetRaw | kNetAdmin), 0u) << capability_names(keep);
  }
}

TEST(CapabilitiesNeededTest, ClientSourceKeepsNetRawWhenHeld) {
  const config::SourceAddress client{true, {}};
  for (const config::Config& c : {with_listener_source(client), with_route_client()}) {
    const std::uint64_t keep = capabilities_needed(c, kAll);
    EXPECT_EQ(keep & (kNetRaw | kNetAdmin), kNetRaw) << capability_names(keep);
  }
  config::Config pool = with_listener_source(std::nullopt);
  pool.pools["web"].source = client;
  EXPECT_EQ(capabilities_needed(pool, kAll) & (kNetRaw | kNetAdmin), kNetRaw);
}

TEST(CapabilitiesNeededTest, ClientSourceFallsBackToAHeldNetAdmin) {
  const config::Config c = with_listener_source(config::SourceAddress{true, {}});
  EXPECT_EQ(capabilities_needed(c, kNetAdmin) & (kNetRaw | kNetAdmin), kNetAdmin);
  EXPECT_EQ(capabilities_needed(c, kNetAdmin | kNetRaw) & (kNetRaw | kNetAdmin), kNetRaw);
  // Neither held: nothing to keep (the start-up check names what to grant).
  EXPECT_EQ(capabilities_needed(c, 0) & (kNetRaw | kNetAdmin), 0u);
}

TEST(CapabilitiesNeededTest, XdpsNetAdminCoversIpTransparent) {
  config::Config c = with_listener_source(config::SourceAddress{true, {}});
  c.xdp = config::Xdp{};
  EXPECT_EQ(capabilities_needed(c, kAll) & (kNetRaw | kNetAdmin), kNetAdmin);
}

TEST(CapabilitiesNeededTest, QuicFastPathKeepsNetAdminToDetach) {
  config::Config c = with_listener_source(std::nullopt);
  EXPECT_EQ(capabilities_needed(c, kAll) & kNetAdmin, 0u);
  c.quic.fast_path = true;
  EXPECT_EQ(capabilities_needed(c, kAll) & kNetAdmin, kNetAdmin);
}

TEST(CapabilitiesNeededTest, NamesNetRaw) {
  EXPECT_EQ(capability_names(kNetRaw | kNetAdmin), "cap_net_admin,cap_net_raw");
}

}  // namespace
}  // namespace sniproxy::app
