// The range checks behind the open-proxy guard, on both sides of each
// range boundary.
#include <gtest/gtest.h>

#include <string>

#include "common/address.hpp"

namespace sniproxy {
namespace {

IpAddress ip(const std::string& text) {
  auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

struct Expectation {
  const char* text;
  bool loopback;
  bool is_private;
  bool link_local;
  bool non_public;
};

void check(const Expectation& e) {
  const IpAddress a = ip(e.text);
  EXPECT_EQ(a.is_loopback(), e.loopback) << e.text << " loopback";
  EXPECT_EQ(a.is_private(), e.is_private) << e.text << " private";
  EXPECT_EQ(a.is_link_local(), e.link_local) << e.text << " link-local";
  EXPECT_EQ(a.is_non_public(), e.non_public) << e.text << " non-public";
}

TEST(Classification, V4Boundaries) {
  const Expectation cases[] = {
      // text                 loop   priv   link   non-public
      {"0.0.0.0", false, false, false, true},      {"0.255.255.255", false, false, false, true},
      {"1.0.0.0", false, false, false, false},     {"9.255.255.255", false, false, false, false},
      {"10.0.0.0", false, true, false, true},      {"10.255.255.255", false, true, false, true},
      {"11.0.0.0", false, false, false, false},    {"100.63.255.255", false, false, false, false},
      {"100.64.0.0", false, true, false, true},    {"100.127.255.255", false, true, false, true},
      {"100.128.0.0", false, false, false, false}, {"126.255.255.255", false, false, false, false},
      {"127.0.0.0", true, false, false, true},     {"127.255.255.255", true, false, false, true},
      {"128.0.0.0", false, false, false, false},   {"169.253.255.255", false, false, false, false},
      {"169.254.0.0", false, false, true, true},   {"169.254.255.255", false, false, true, true},
      {"169.255.0.0", false, false, false, false}, {"172.15.255.255", false, false, false, false},
      {"172.16.0.0", false, true, false, true},    {"172.31.255.255", false, true, false, true},
      {"172.32.0.0", false, false, false, false},  {"192.167.255.255", false, false, false, false},
      {"192.168.0.0", false, true, false, true},   {"192.168.255.255", false, true, false, true},
      {"192.169.0.0", false, false, false, false}, {"223.255.255.255", false, false, false, false},
      {"224.0.0.0", false, false, false, true},    {"239.255.255.255", false, false, false, true},
      {"240.0.0.0", false, false, false, true},    {"255.255.255.255", false, false, false, true},
      {"8.8.8.8", false, false, false, false},
  };
  for (const auto& c : cases) check(c);
}

TEST(Classification, V6Boundaries) {
  const Expectation cases[] = {
      {"::", false, false, false, true},
      {"::1", true, false, false, true},
      {"::2", false, false, false, false},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false, false, false},
      {"fc00::", false, true, false, true},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, true, false, true},
      {"fe00::", false, false, false, false},
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false, false, false},
      {"fe80::", false, false, true, true},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false, true, true},
      {"fec0::", false, false, false, false},
      {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false, false, false},
      {"ff00::", false, false, false, true},
      {"ff02::1", false, false, false, true},
      {"2001:4860::8888", false, false, false, false},
      {"2606:4700:4700::1111", false, false, false, false},
  };
  for (const auto& c : cases) check(c);
}

TEST(Classification, V4MappedFormsClassifyAsTheirV4Address) {
  const Expectation cases[] = {
      {"::ffff:127.0.0.1", true, false, false, true},
      {"::ffff:10.0.0.1", false, true, false, true},
      {"::ffff:172.16.0.0", false, true, false, true},
      {"::ffff:172.32.0.0", false, false, false, false},
      {"::ffff:192.168.1.1", false, true, false, true},
      {"::ffff:100.64.0.1", false, true, false, true},
      {"::ffff:169.254.169.254", false, false, true, true},
      {"::ffff:0.0.0.0", false, false, false, true},
      {"::ffff:224.0.0.1", false, false, false, true},
      {"::ffff:8.8.8.8", false, false, false, false},
  };
  for (const auto& c : cases) check(c);
}

}  // namespace
}  // namespace sniproxy
