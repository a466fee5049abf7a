#include "common/server_name.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sniproxy {
namespace {

using namespace std::string_view_literals;

TEST(NormalizeServerName, LowerCasesAscii) {
  EXPECT_EQ(normalize_server_name("WWW.Example.COM"), "www.example.com");
  EXPECT_EQ(normalize_server_name("www.example.com"), "www.example.com");
  EXPECT_EQ(normalize_server_name("A-Z_0-9.ORG"), "a-z_0-9.org");
}

TEST(NormalizeServerName, StripsOneTrailingDot) {
  EXPECT_EQ(normalize_server_name("WWW.Example.COM."), "www.example.com");
  EXPECT_EQ(normalize_server_name("localhost."), "localhost");
  EXPECT_FALSE(normalize_server_name("example.com..").has_value());
}

TEST(NormalizeServerName, RejectsEmptyAndDotsOnly) {
  EXPECT_FALSE(normalize_server_name("").has_value());
  EXPECT_FALSE(normalize_server_name(".").has_value());
  EXPECT_FALSE(normalize_server_name("..").has_value());
  EXPECT_FALSE(normalize_server_name(".example.com").has_value());
  EXPECT_FALSE(normalize_server_name("a..b").has_value());
}

TEST(NormalizeServerName, LabelLength) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  EXPECT_EQ(normalize_server_name(label63 + ".com"), label63 + ".com");
  EXPECT_FALSE(normalize_server_name(label64 + ".com").has_value());
  EXPECT_FALSE(normalize_server_name("www." + label64).has_value());
}

TEST(NormalizeServerName, TotalLength) {
  // Four 63-byte labels joined by dots are 255 bytes; trim to the limits.
  std::string name;
  for (int i = 0; i < 4; ++i) name += (i ? "." : "") + std::string(63, 'a');
  const std::string n253 = name.substr(0, 253);  // ends "...a.a" + 59 a's
  ASSERT_EQ(n253.size(), 253u);
  EXPECT_EQ(normalize_server_name(n253), n253);
  EXPECT_EQ(normalize_server_name(n253 + "."), n253);  // 254 with the root dot
  const std::string n254 = name.substr(0, 254);
  EXPECT_FALSE(normalize_server_name(n254).has_value());
  EXPECT_FALSE(normalize_server_name(n254 + ".").has_value());
}

TEST(NormalizeServerName, RejectsNulAndOtherBytes) {
  EXPECT_FALSE(normalize_server_name("example.com\0.evil.net"sv).has_value());
  EXPECT_FALSE(normalize_server_name("\0"sv).has_value());
  EXPECT_FALSE(normalize_server_name("exa mple.com").has_value());
  EXPECT_FALSE(normalize_server_name("example.com:443").has_value());
  EXPECT_FALSE(normalize_server_name("*.example.com").has_value());
  EXPECT_FALSE(normalize_server_name("ex/ample.com").has_value());
  EXPECT_FALSE(normalize_server_name("\xc3\xa9xample.com").has_value());  // raw UTF-8
  EXPECT_FALSE(normalize_server_name("\x80.com").has_value());
}

TEST(NormalizeServerName, AcceptsUnderscoreHyphenDigitsAndPunycode) {
  EXPECT_EQ(normalize_server_name("_dmarc.example.com"), "_dmarc.example.com");
  EXPECT_EQ(normalize_server_name("my_host.example.com"), "my_host.example.com");
  EXPECT_EQ(normalize_server_name("a-b.1-2.example"), "a-b.1-2.example");
  EXPECT_EQ(normalize_server_name("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalize_server_name("1.2.3.4"), "1.2.3.4");
}

}  // namespace
}  // namespace sniproxy
