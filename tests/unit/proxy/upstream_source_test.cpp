// What an upstream connect binds to under source_address: the address
// itself when its family is the backend's, the client's own for "client"
// (transparent), and the proxy's own (counted) for a client of the other
// family.
#include <gtest/gtest.h>

#include "proxy/upstream_socket.hpp"

namespace sniproxy::proxy {
namespace {

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

const config::SourceAddress kClient{true, {}};

TEST(UpstreamSourceTest, NoneLeavesTheChoiceToTheKernel) {
  const UpstreamSource s = upstream_source(std::nullopt, ip("10.0.0.2"), Family::v4);
  EXPECT_FALSE(s.address.has_value());
  EXPECT_FALSE(s.transparent);
  EXPECT_FALSE(s.client_skipped);
}

TEST(UpstreamSourceTest, AnAddressOfTheBackendsFamilyIsBoundOtherwiseIgnored) {
  const config::SourceAddress four{false, ip("192.0.2.1")};
  UpstreamSource s = upstream_source(four, ip("10.0.0.2"), Family::v4);
  ASSERT_TRUE(s.address.has_value());
  EXPECT_EQ(s.address->to_string(), "192.0.2.1");
  EXPECT_FALSE(s.transparent);
  s = upstream_source(four, ip("10.0.0.2"), Family::v6);
  EXPECT_FALSE(s.address.has_value());
  EXPECT_FALSE(s.client_skipped) << "only \"client\" is counted";
}

TEST(UpstreamSourceTest, ClientBindsTheClientsAddressTransparently) {
  UpstreamSource s = upstream_source(kClient, ip("10.77.1.2"), Family::v4);
  ASSERT_TRUE(s.address.has_value());
  EXPECT_EQ(s.address->to_string(), "10.77.1.2");
  EXPECT_TRUE(s.transparent);
  EXPECT_FALSE(s.client_skipped);
  s = upstream_source(kClient, ip("2001:db8::7"), Family::v6);
  ASSERT_TRUE(s.address.has_value());
  EXPECT_EQ(s.address->to_string(), "2001:db8::7");
  EXPECT_TRUE(s.transparent);
}

TEST(UpstreamSourceTest, AClientOfTheOtherFamilyConnectsFromTheProxysOwnAddress) {
  for (const auto& [client, backend] :
       {std::pair{"2001:db8::7", Family::v4}, std::pair{"10.77.1.2", Family::v6}}) {
    const UpstreamSource s = upstream_source(kClient, ip(client), backend);
    EXPECT_FALSE(s.address.has_value()) << client;
    EXPECT_FALSE(s.transparent) << client;
    EXPECT_TRUE(s.client_skipped) << client;
  }
}

}  // namespace
}  // namespace sniproxy::proxy
