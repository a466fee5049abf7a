// [[listener]] proxy_protocol_in and trusted_sources: read together, every
// mistake located.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/prefix.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using ::testing::HasSubstr;
using testing::must_load;

std::string listener_with(const std::string& lines) {
  return "[[listener]]\naddress = \"127.0.0.1:8443\"\ntable = \"t\"\n" + lines +
         "\n[[tables.t]]\nmatch = \"a.example\"\nbackend = \"127.0.0.1:9443\"\n";
}

TEST(ProxyProtocolInConfig, OffUnlessSetAndTheTrustedPrefixesLand) {
  EXPECT_EQ(must_load(listener_with("")).listeners[0].proxy_protocol_in, ProxyProtocolIn::off);
  const Config c = must_load(listener_with(
      "proxy_protocol_in = \"any\"\ntrusted_sources = [\"10.0.0.0/8\", \"2001:db8::1\"]\n"));
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.proxy_protocol_in, ProxyProtocolIn::any);
  ASSERT_EQ(l.trusted_sources.size(), 2u);
  EXPECT_TRUE(contains(l.trusted_sources, *IpAddress::parse("10.1.2.3")));
  EXPECT_TRUE(contains(l.trusted_sources, *IpAddress::parse("2001:db8::1")));
  EXPECT_FALSE(contains(l.trusted_sources, *IpAddress::parse("11.0.0.1")));
  EXPECT_FALSE(contains(l.trusted_sources, *IpAddress::parse("2001:db8::2")));
  EXPECT_EQ(must_load(listener_with("proxy_protocol_in = \"v1\"\ntrusted_sources = [\"::1\"]\n"))
                .listeners[0]
                .proxy_protocol_in,
            ProxyProtocolIn::v1);
}

TEST(ProxyProtocolInConfig, OneWithoutTheOtherIsAnError) {
  EXPECT_THAT(errors_of(listener_with("proxy_protocol_in = \"v2\"\n")),
              ElementsAre(AllOf(HasSubstr("t.toml:4:21:"), HasSubstr("needs 'trusted_sources'"))));
  EXPECT_THAT(errors_of(listener_with("trusted_sources = [\"10.0.0.0/8\"]\n")),
              ElementsAre(AllOf(HasSubstr("t.toml:4:19:"), HasSubstr("only with"))));
  EXPECT_THAT(errors_of(listener_with("proxy_protocol_in = \"v2\"\ntrusted_sources = []\n")),
              ElementsAre(HasSubstr("is empty")));
}

TEST(ProxyProtocolInConfig, BadValuesAreLocated) {
  EXPECT_THAT(
      errors_of(listener_with("proxy_protocol_in = \"v3\"\ntrusted_sources = [\"10.0.0.0/8\"]\n")),
      ElementsAre(AllOf(HasSubstr("t.toml:4:21:"), HasSubstr("any"))));
  EXPECT_THAT(
      errors_of(listener_with("proxy_protocol_in = \"v1\"\ntrusted_sources = [\"10.0.0.1/8\"]\n")),
      ElementsAre(HasSubstr("t.toml:5:20:")));
}

TEST(PrefixContains, BitsBeyondWholeBytesAreCompared) {
  const Prefix p = *parse_prefix("192.0.2.128/25");
  EXPECT_TRUE(contains(p, *IpAddress::parse("192.0.2.200")));
  EXPECT_FALSE(contains(p, *IpAddress::parse("192.0.2.127")));
  EXPECT_TRUE(contains(*parse_prefix("0.0.0.0/0"), *IpAddress::parse("8.8.8.8")));
  EXPECT_FALSE(contains(*parse_prefix("0.0.0.0/0"), *IpAddress::parse("::1")));
}

}  // namespace
}  // namespace sniproxy::config
