// fast_open on a route or a pool: TCP Fast Open toward the backend, off
// unless set; a pool's setting applies to its routes and fallbacks unless a
// route sets its own.
#include <gtest/gtest.h>

#include <string>

#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using testing::errors_of;
using testing::must_load;

constexpr std::string_view kListener = R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
)";

constexpr std::string_view kPool = R"(
[pools.web]
fast_open = true
servers = [{ backend = "127.0.0.1:9001" }]
)";

std::string with_listener(std::string_view rest) {
  return std::string(kListener) + std::string(rest);
}

const Target& target_of(const Config& c, std::size_t route) {
  return c.tables.at("t").routes.at(route).target;
}

TEST(FastOpenConnect, OffUnlessSetOnARoute) {
  Config c = must_load(with_listener(R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"

[[tables.t]]
match = "b.example"
backend = "127.0.0.1:9443"
fast_open = true

[[tables.t]]
match = "c.example"
resolve = 443
fast_open = true
)"));
  ASSERT_EQ(c.tables.at("t").routes.size(), 3u);
  EXPECT_FALSE(target_of(c, 0).fast_open);
  EXPECT_TRUE(target_of(c, 1).fast_open);
  EXPECT_TRUE(target_of(c, 2).fast_open);
}

TEST(FastOpenConnect, APoolsSettingAppliesUnlessTheRouteSetsItsOwn) {
  Config c = must_load(with_listener(std::string(kPool) + R"(
[pools.plain]
servers = [{ backend = "127.0.0.1:9002" }]

[[tables.t]]
match = "a.example"
pool = "web"

[[tables.t]]
match = "b.example"
pool = "web"
fast_open = false

[[tables.t]]
match = "c.example"
pool = "plain"
fast_open = true

[[tables.t]]
match = "d.example"
pool = "plain"
)"));
  EXPECT_TRUE(c.pools.at("web").fast_open);
  EXPECT_FALSE(c.pools.at("plain").fast_open);
  EXPECT_TRUE(target_of(c, 0).fast_open);
  EXPECT_FALSE(target_of(c, 1).fast_open);
  EXPECT_TRUE(target_of(c, 2).fast_open);
  EXPECT_FALSE(target_of(c, 3).fast_open);
}

TEST(FastOpenConnect, AFallbackPoolTakesThePoolsSetting) {
  Config c = must_load(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
fallback = "pool:web"
)" + std::string(kPool) +
                       R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)");
  ASSERT_EQ(c.listeners.size(), 1u);
  ASSERT_TRUE(c.listeners[0].fallback.has_value());
  EXPECT_TRUE(c.listeners[0].fallback->fast_open);
}

TEST(FastOpenConnect, RefusedOnADenyRoute) {
  const auto errors = errors_of(with_listener(R"(
[[tables.t]]
match = "a.example"
deny = true
fast_open = true
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.toml:9:13: 'fast_open' has no effect on a deny route; remove it");
}

TEST(FastOpenConnect, MustBeABooleanOnARouteAndOnAPool) {
  const auto errors = errors_of(with_listener(R"(
[pools.web]
fast_open = "yes"
servers = [{ backend = "127.0.0.1:9001" }]

[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
fast_open = 1
)"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("t.toml:7:13:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("fast_open"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("t.toml:13:13:"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("fast_open"), std::string::npos) << errors[1];
}

}  // namespace
}  // namespace sniproxy::config
