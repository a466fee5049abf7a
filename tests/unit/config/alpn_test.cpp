// A route's `alpn` list: what loads, and each mistake with its FILE:LINE:COL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using testing::must_load;

// A listener and table `t`; the routes under test follow from line 4 on.
constexpr std::string_view kHead =
    "[[listener]]\n"
    "address = \"127.0.0.1:1\"\n"
    "table = \"t\"\n";

std::vector<std::string> errors_in(std::string_view routes) {
  return errors_of(std::string(kHead) + std::string(routes));
}

TEST(ConfigAlpnTest, RoutesOfOnePatternMayDifferInAlpn) {
  const Config c = must_load(std::string(kHead) + R"([[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
[[tables.t]]
match = "a.example"
alpn = ["acme-tls/1"]
backend = "127.0.0.1:9444"
[[tables.t]]
match = "a.example"
alpn = ["h2", "h3"]
deny = true
)");
  const auto& routes = c.tables.at("t").routes;
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_TRUE(routes[0].alpn.empty());
  EXPECT_THAT(routes[1].alpn, ElementsAre("acme-tls/1"));
  EXPECT_EQ(routes[1].target.port, 9444);
  EXPECT_THAT(routes[2].alpn, ElementsAre("h2", "h3"));
}

TEST(ConfigAlpnTest, NotAnArrayOfStrings) {
  EXPECT_THAT(
      errors_in(R"([[tables.t]]
match = "a.example"
alpn = "acme-tls/1"
deny = true
[[tables.t]]
match = "b.example"
alpn = ["h2", 2]
deny = true
)"),
      ElementsAre("t.toml:6:8: expected an array of strings for 'alpn', got a string",
                  "t.toml:10:15: expected a string for each entry of 'alpn', got an integer"));
}

TEST(ConfigAlpnTest, EmptyArrayEmptyNameAndRepeats) {
  EXPECT_THAT(
      errors_in(R"([[tables.t]]
match = "a.example"
alpn = []
deny = true
[[tables.t]]
match = "b.example"
alpn = ["h2", ""]
deny = true
[[tables.t]]
match = "c.example"
alpn = ["h2", "h2"]
deny = true
)"),
      ElementsAre("t.toml:6:8: 'alpn' must name at least one protocol, e.g. [\"acme-tls/1\"]",
                  "t.toml:10:15: invalid ALPN protocol '': 1 to 255 bytes",
                  "t.toml:14:15: ALPN protocol 'h2' is listed twice"));
}

TEST(ConfigAlpnTest, SamePatternAndProtocolTwiceIsADuplicate) {
  EXPECT_THAT(errors_in(R"([[tables.t]]
match = "a.example"
alpn = ["acme-tls/1"]
deny = true
[[tables.t]]
match = "A.Example"
alpn = ["h2", "acme-tls/1"]
backend = "127.0.0.1:1"
[[tables.t]]
match = "b.example"
deny = true
[[tables.t]]
match = "b.example"
deny = true
)"),
              ElementsAre("t.toml:10:8: duplicate route 'A.Example' with ALPN 'acme-tls/1' in "
                          "table 't' (first defined at line 6)",
                          "t.toml:16:9: duplicate route 'b.example' in table 't' (first defined "
                          "at line 13)"));
}

}  // namespace
}  // namespace sniproxy::config
