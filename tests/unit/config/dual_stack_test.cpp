// [[listener]] v6only: dual-stack "[::]" listeners, and what happens beside
// an IPv4 listener on the same port.
#include <gtest/gtest.h>

#include <string>

#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using testing::errors_of;
using testing::must_load;

constexpr std::string_view kTable = R"(
[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)";

std::string with_listeners(std::string_view listeners) {
  return std::string(listeners) + std::string(kTable);
}

TEST(DualStack, AnIpv6WildcardTakesIpv4ByDefaultAndNotWhenToldSo) {
  Config c = must_load(with_listeners(R"(
[[listener]]
address = "[::]:8443"
table = "t"

[[listener]]
address = "[::]:8444"
table = "t"
v6only = true
)"));
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_FALSE(c.listeners[0].v6only);
  EXPECT_TRUE(c.listeners[1].v6only);
}

TEST(DualStack, BesideAnIpv4ListenerOnItsPortItIsV6OnlyByItself) {
  Config c = must_load(with_listeners(R"(
[[listener]]
address = "0.0.0.0:8443"
table = "t"

[[listener]]
address = "[::]:8443"
table = "t"

[[listener]]
address = "[::]:8444"
table = "t"
)"));
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_TRUE(c.listeners[1].v6only);   // 0.0.0.0:8443 serves IPv4 there
  EXPECT_FALSE(c.listeners[2].v6only);  // nothing else on 8444
}

TEST(DualStack, SayingFalseBesideAnIpv4ListenerIsAnErrorNamingBoth) {
  const auto errors = errors_of(with_listeners(R"(
[[listener]]
name = "v4"
address = "0.0.0.0:8443"
table = "t"

[[listener]]
name = "v6"
address = "[::]:8443"
table = "t"
v6only = false
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "t.toml:11:10: listener 'v6' on [::]:8443 would take IPv4 clients too, but listener "
            "'v4' listens on 0.0.0.0:8443: set v6only = true, or remove 'v4'");
}

TEST(DualStack, V6onlyOnAnIpv4AddressIsAnError) {
  const auto errors = errors_of(with_listeners(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
v6only = true
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "t.toml:5:10: 'v6only' applies to IPv6 listeners only; this address is IPv4");
}

TEST(DualStack, V6onlyMustBeABoolean) {
  const auto errors = errors_of(with_listeners(R"(
[[listener]]
address = "[::]:8443"
table = "t"
v6only = "yes"
)"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("t.toml:5:10:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("v6only"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace sniproxy::config
