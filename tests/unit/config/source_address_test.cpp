// source_address on listeners, routes and pools: an IP literal or "client";
// the route's wins over its pool's; a deny route refuses it; a bad value is
// reported at its FILE:LINE:COL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "config/source_address.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using testing::kMinimal;
using testing::must_load;

bool is_client(const std::optional<SourceAddress>& source) {
  return source && source->client;
}

std::string ip_of(const std::optional<SourceAddress>& source) {
  return source && !source->client ? source->ip.to_string() : "";
}

TEST(SourceAddressTest, ListenerTakesClientOrAnAddress) {
  const Config c = must_load(R"([[listener]]
address = "127.0.0.1:8443"
table = "t"
source_address = "client"
[[listener]]
address = "127.0.0.1:8444"
table = "t"
source_address = "10.0.0.9"
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_TRUE(is_client(c.listeners[0].source));
  EXPECT_EQ(ip_of(c.listeners[1].source), "10.0.0.9");
  EXPECT_TRUE(uses_client_source(c));
}

TEST(SourceAddressTest, RouteWinsOverPoolAndPoolAppliesToItsRoutesAndFallbacks) {
  const Config c = must_load(R"([[listener]]
address = "127.0.0.1:8443"
table = "t"
source_address = "10.0.0.1"
fallback = "pool:web"

[pools.web]
source_address = "client"
servers = [{ backend = "10.0.1.1:443" }]

[pools.api]
servers = [{ backend = "10.0.1.2:443" }]

[[tables.t]]
match = "own.example"
pool = "web"
source_address = "192.0.2.7"

[[tables.t]]
match = "pooled.example"
pool = "web"

[[tables.t]]
match = "plain.example"
pool = "api"

[[tables.t]]
match = "direct.example"
backend = "10.0.2.1:443"
source_address = "client"

[[tables.t]]
match = "resolved.example"
resolve = 443
source_address = "2001:db8::5"
)");
  const auto& routes = c.tables.at("t").routes;
  ASSERT_EQ(routes.size(), 5u);
  EXPECT_EQ(ip_of(routes[0].target.source), "192.0.2.7");
  EXPECT_TRUE(is_client(routes[1].target.source));
  EXPECT_FALSE(routes[2].target.source.has_value()) << "the listener's applies";
  EXPECT_TRUE(is_client(routes[3].target.source));
  EXPECT_EQ(ip_of(routes[4].target.source), "2001:db8::5");
  ASSERT_TRUE(c.listeners[0].fallback.has_value());
  EXPECT_TRUE(is_client(c.listeners[0].fallback->source));
  EXPECT_EQ(ip_of(c.listeners[0].source), "10.0.0.1");
  EXPECT_TRUE(is_client(c.pools.at("web").source));
  EXPECT_TRUE(uses_client_source(c));
}

TEST(SourceAddressTest, WithoutClientNothingUsesIt) {
  const Config c = must_load(std::string(kMinimal) + R"(
[pools.web]
source_address = "10.0.0.1"
servers = [{ backend = "10.0.1.1:443" }]
)");
  EXPECT_FALSE(uses_client_source(c));
  EXPECT_EQ(ip_of(c.pools.at("web").source), "10.0.0.1");
}

TEST(SourceAddressTest, AnUnusedPoolWithClientCountsToo) {
  const Config c = must_load(std::string(kMinimal) + R"(
[pools.web]
source_address = "client"
servers = [{ backend = "10.0.1.1:443" }]
)");
  EXPECT_TRUE(uses_client_source(c));
}

TEST(SourceAddressTest, BadValuesAndADenyRouteAreReportedWhereTheyAre) {
  EXPECT_THAT(errors_of(R"([[listener]]
address = "127.0.0.1:8443"
table = "t"
source_address = "Client"

[pools.web]
source_address = "10.0.0.256"
servers = [{ backend = "10.0.1.1:443" }]

[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
source_address = 7

[[tables.t]]
match = "b.example"
deny = true
source_address = "client"

[[tables.t]]
match = "c.example"
pool = "web"
source_address = "web.internal"
)"),
              ElementsAre("t.toml:4:18: invalid source_address 'Client': expected an IP address "
                          "or \"client\"",
                          "t.toml:7:18: invalid source_address '10.0.0.256': expected an IP "
                          "address or \"client\"",
                          "t.toml:13:18: expected a string for 'source_address', got an integer",
                          "t.toml:18:18: 'source_address' has no effect on a deny route; remove it",
                          "t.toml:23:18: invalid source_address 'web.internal': expected an IP "
                          "address or \"client\""));
}

}  // namespace
}  // namespace sniproxy::config
