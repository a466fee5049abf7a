// CIDR prefixes and prefix files for [xdp]: every accepted form, every
// refusal with its message, and LINE:COL in prefix files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/prefix.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;

std::string round_trip(std::string_view text) {
  auto p = parse_prefix(text);
  return p.ok() ? to_string(*p) : "error: " + p.error().message;
}

std::string error_of(std::string_view text) {
  auto p = parse_prefix(text);
  return p.ok() ? "accepted" : p.error().message;
}

TEST(PrefixTest, AcceptsIpv4AndIpv6PrefixesAndBareAddresses) {
  EXPECT_EQ(round_trip("10.0.0.0/8"), "10.0.0.0/8");
  EXPECT_EQ(round_trip("192.0.2.128/25"), "192.0.2.128/25");
  EXPECT_EQ(round_trip("0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_EQ(round_trip("192.0.2.7"), "192.0.2.7/32");
  EXPECT_EQ(round_trip("2001:db8::/32"), "2001:db8::/32");
  EXPECT_EQ(round_trip("2001:DB8:0:0::/64"), "2001:db8::/64");
  EXPECT_EQ(round_trip("::/0"), "::/0");
  EXPECT_EQ(round_trip("fd00::1"), "fd00::1/128");
  EXPECT_EQ(round_trip("2001:db8::1/128"), "2001:db8::1/128");
}

TEST(PrefixTest, FamilyAndLengthAreKept) {
  auto v4 = parse_prefix("198.51.100.0/24");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->address.family, Family::v4);
  EXPECT_EQ(v4->length, 24);
  auto v6 = parse_prefix("2001:db8:1::/48");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->address.family, Family::v6);
  EXPECT_EQ(v6->length, 48);
}

TEST(PrefixTest, RefusesMalformedText) {
  const std::string form =
      "expected an IP address or ADDRESS/LENGTH, e.g. \"192.0.2.0/24\" or \"2001:db8::/32\"";
  EXPECT_EQ(error_of(""), "invalid prefix '': " + form);
  EXPECT_EQ(error_of("example.com/8"), "invalid prefix 'example.com/8': " + form);
  EXPECT_EQ(error_of("10.0.0/8"), "invalid prefix '10.0.0/8': " + form);
  EXPECT_EQ(error_of("/8"), "invalid prefix '/8': " + form);
  EXPECT_EQ(error_of("[2001:db8::]/32"), "invalid prefix '[2001:db8::]/32': " + form);
  EXPECT_EQ(error_of("10.0.0.0/"),
            "invalid prefix '10.0.0.0/': the length after '/' must be a number");
  EXPECT_EQ(error_of("10.0.0.0/+8"),
            "invalid prefix '10.0.0.0/+8': the length after '/' must be a number");
  EXPECT_EQ(error_of("10.0.0.0/8/8"),
            "invalid prefix '10.0.0.0/8/8': the length after '/' must be a number");
  EXPECT_EQ(error_of("10.0.0.0/0008"),
            "invalid prefix '10.0.0.0/0008': the length after '/' must be a number");
  EXPECT_EQ(error_of("10.0.0.0/8 "),
            "invalid prefix '10.0.0.0/8 ': the length after '/' must be a number");
}

TEST(PrefixTest, RefusesLengthsBeyondTheFamily) {
  EXPECT_EQ(error_of("10.0.0.0/33"),
            "invalid prefix '10.0.0.0/33': the length of an IPv4 prefix is 0..32");
  EXPECT_EQ(error_of("2001:db8::/129"),
            "invalid prefix '2001:db8::/129': the length of an IPv6 prefix is 0..128");
}

TEST(PrefixTest, RefusesHostBitsWithTheNetworkItMeant) {
  EXPECT_EQ(error_of("10.1.2.3/8"),
            "invalid prefix '10.1.2.3/8': address bits are set after the first 8; did you mean "
            "\"10.0.0.0/8\"?");
  EXPECT_EQ(error_of("192.0.2.129/25"),
            "invalid prefix '192.0.2.129/25': address bits are set after the first 25; did you "
            "mean \"192.0.2.128/25\"?");
  EXPECT_EQ(error_of("2001:db8::1/64"),
            "invalid prefix '2001:db8::1/64': address bits are set after the first 64; did you "
            "mean \"2001:db8::/64\"?");
  EXPECT_EQ(error_of("1.2.3.4/0"),
            "invalid prefix '1.2.3.4/0': address bits are set after the first 0; did you mean "
            "\"0.0.0.0/0\"?");
}

std::vector<std::string> file_errors(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& e : parse_prefix_file(text).errors) {
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message);
  }
  return out;
}

std::vector<std::string> file_prefixes(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& p : parse_prefix_file(text).prefixes) out.push_back(to_string(p));
  return out;
}

TEST(PrefixFileTest, CommentsBlankLinesSpacesAndCrlf) {
  constexpr std::string_view kText =
      "# office networks\n"
      "\n"
      "192.0.2.0/24\n"
      "   198.51.100.7   # the VPN gateway\n"
      "\t2001:db8::/32\t\r\n"
      "#10.0.0.0/8 disabled\n"
      "   \n"
      "203.0.113.0/24";  // no final newline
  EXPECT_THAT(file_errors(kText), ElementsAre());
  EXPECT_THAT(file_prefixes(kText),
              ElementsAre("192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32", "203.0.113.0/24"));
}

TEST(PrefixFileTest, EmptyAndCommentOnlyFilesHoldNoPrefixes) {
  EXPECT_THAT(file_prefixes(""), ElementsAre());
  EXPECT_THAT(file_prefixes("# nothing yet\n\n"), ElementsAre());
  EXPECT_THAT(file_errors("# nothing yet\n\n"), ElementsAre());
}

TEST(PrefixFileTest, ErrorsPointAtTheirLineAndColumnAndTheRestIsKept) {
  constexpr std::string_view kText =
      "192.0.2.0/24\n"
      "  10.1.2.3/8   # typo\n"
      "nonsense\n"
      "198.51.100.0/24 203.0.113.0/24\n"
      "2001:db8::/200\n"
      "2001:db8:1::/48\n";
  EXPECT_THAT(
      file_errors(kText),
      ElementsAre("2:3: invalid prefix '10.1.2.3/8': address bits are set after the first 8; did "
                  "you mean \"10.0.0.0/8\"?",
                  "3:1: invalid prefix 'nonsense': expected an IP address or ADDRESS/LENGTH, e.g. "
                  "\"192.0.2.0/24\" or \"2001:db8::/32\"",
                  "4:17: one prefix per line: '203.0.113.0/24' follows '198.51.100.0/24'",
                  "5:1: invalid prefix '2001:db8::/200': the length of an IPv6 prefix is 0..128"));
  EXPECT_THAT(file_prefixes(kText), ElementsAre("192.0.2.0/24", "2001:db8:1::/48"));
}

}  // namespace
}  // namespace sniproxy::config
