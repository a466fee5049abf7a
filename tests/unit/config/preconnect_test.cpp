// preconnect on routes and pools, and [timeouts] preconnect_idle: off by
// default, a route's own over its pool's, and refused where the connect
// would need the client first (fast_open, source_address = "client").
#include <gtest/gtest.h>

#include <string>

#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using testing::errors_of;
using testing::must_load;

constexpr std::string_view kPreconnectListener = R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
)";

std::string preconnect_listener_with(std::string_view rest) {
  return std::string(kPreconnectListener) + std::string(rest);
}

TEST(Preconnect, OffUnlessSetAndARoutesOwnWinsOverItsPools) {
  Config c = must_load(preconnect_listener_with(R"(
[timeouts]
preconnect_idle = "4s"

[pools.web]
preconnect = 3
servers = [{ backend = "127.0.0.1:9001" }]

[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"

[[tables.t]]
match = "b.example"
backend = "127.0.0.1:9443"
preconnect = 8

[[tables.t]]
match = "c.example"
pool = "web"

[[tables.t]]
match = "d.example"
pool = "web"
preconnect = 1
)"));
  const auto& routes = c.tables.at("t").routes;
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].target.preconnect, 0u);
  EXPECT_EQ(routes[1].target.preconnect, 8u);
  EXPECT_EQ(routes[2].target.preconnect, 3u);
  EXPECT_EQ(routes[3].target.preconnect, 1u);
  EXPECT_EQ(c.timeouts.preconnect_idle, Millis(4000));
  EXPECT_EQ(must_load(preconnect_listener_with(
                          "[[tables.t]]\nmatch = \"a\"\nbackend = \"127.0.0.1:1\"\n"))
                .timeouts.preconnect_idle,
            Millis(10'000));
}

TEST(Preconnect, OutOfRangeNamesWhere) {
  const auto errors = errors_of(preconnect_listener_with(R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
preconnect = 65
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.toml:9:14: 'preconnect' must be from 0 to 64, got 65");
}

TEST(Preconnect, RefusedWithFastOpenOrAClientSource) {
  auto errors = errors_of(preconnect_listener_with(R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
preconnect = 2
fast_open = true
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("t.toml:9:14: 'preconnect' and 'fast_open' exclude each other"),
            std::string::npos)
      << errors[0];
  errors = errors_of(preconnect_listener_with(R"(
[pools.web]
preconnect = 2
source_address = "client"
servers = [{ backend = "127.0.0.1:9001" }]

[[tables.t]]
match = "a.example"
pool = "web"
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("t.toml:7:14: 'preconnect' cannot be used with source_address"),
            std::string::npos)
      << errors[0];
}

TEST(Preconnect, NotOnADenyRoute) {
  const auto errors = errors_of(preconnect_listener_with(R"(
[[tables.t]]
match = "a.example"
deny = true
preconnect = 2
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("'preconnect' has no effect on a deny route"), std::string::npos)
      << errors[0];
}

}  // namespace
}  // namespace sniproxy::config
