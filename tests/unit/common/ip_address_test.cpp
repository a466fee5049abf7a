#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/address.hpp"

namespace sniproxy {
namespace {

void expect_round_trip(const std::string& text, Family family) {
  auto a = IpAddress::parse(text);
  ASSERT_TRUE(a.has_value()) << text;
  EXPECT_EQ(a->family, family) << text;
  EXPECT_EQ(a->to_string(), text);
  EXPECT_EQ(IpAddress::parse(a->to_string()), a) << text;
}

TEST(IpAddress, V4RoundTrips) {
  for (const char* text : {"0.0.0.0", "1.2.3.4", "127.0.0.1", "255.255.255.255", "192.168.10.200"})
    expect_round_trip(text, Family::v4);
}

TEST(IpAddress, V6RoundTripsInCanonicalForm) {
  for (const char* text : {"::", "::1", "2001:db8::1", "fe80::1:2:3:4", "::ffff:1.2.3.4",
                           "2001:db8:1:2:3:4:5:6", "ff02::1"})
    expect_round_trip(text, Family::v6);
}

TEST(IpAddress, V6NonCanonicalTextParsesToCanonical) {
  auto a = IpAddress::parse("2001:0DB8:0000:0000:0000:0000:0000:0001");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->to_string(), "2001:db8::1");
}

TEST(IpAddress, BytesAreNetworkOrder) {
  auto a = IpAddress::parse("1.2.3.4");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->bytes[0], 1);
  EXPECT_EQ(a->bytes[3], 4);
  EXPECT_EQ(*a, IpAddress::v4(1, 2, 3, 4));
  auto b = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->bytes[0], 0x20);
  EXPECT_EQ(b->bytes[1], 0x01);
  EXPECT_EQ(b->bytes[15], 0x01);
}

TEST(IpAddress, InvalidStringsRejected) {
  for (const char* text : {"",
                           " ",
                           "1.2.3",
                           "1.2.3.4.5",
                           "256.1.1.1",
                           "1.2.3.-1",
                           "01.2.3.4",
                           "1.2.3.4 ",
                           " 1.2.3.4",
                           "1.2.3.4/24",
                           "a.b.c.d",
                           "example.com",
                           ":::",
                           "1::2::3",
                           "2001:db8::g",
                           "[::1]",
                           "fe80::1%eth0",
                           "1:2:3:4:5:6:7:8:9",
                           "::ffff:1.2.3.256",
                           "0x7f.0.0.1",
                           "localhost"}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(IpAddress, OverlongInputRejected) {
  EXPECT_FALSE(IpAddress::parse(std::string(100, '1')).has_value());
  // A valid address followed by padding up to exactly INET6_ADDRSTRLEN.
  EXPECT_FALSE(IpAddress::parse("1.2.3.4" + std::string(39, ' ')).has_value());
}

TEST(IpAddress, EmbeddedNulRejected) {
  // inet_pton stops at a NUL, so "127.0.0.1\0evil" must be refused before
  // it gets there; otherwise a name with a NUL parses as an IP literal.
  using namespace std::string_view_literals;
  EXPECT_FALSE(IpAddress::parse("127.0.0.1\0evil"sv).has_value());
  EXPECT_FALSE(IpAddress::parse("::1\0"sv).has_value());
  EXPECT_FALSE(IpAddress::parse("\0"sv).has_value());
}

TEST(IpAddress, Unmapped) {
  auto mapped = IpAddress::parse("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(mapped->unmapped(), IpAddress::v4(192, 0, 2, 1));
  auto plain6 = IpAddress::parse("2001:db8::1");
  EXPECT_EQ(plain6->unmapped(), *plain6);
  EXPECT_EQ(IpAddress::v4(1, 2, 3, 4).unmapped(), IpAddress::v4(1, 2, 3, 4));
  // ::fffe:... and ::1:ffff:... are not the mapped prefix.
  auto near = IpAddress::parse("::fffe:c000:201");
  EXPECT_EQ(near->unmapped().family, Family::v6);
}

TEST(IpAddress, IsUnspecified) {
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddress::parse("0.0.0.1")->is_unspecified());
  EXPECT_FALSE(IpAddress::parse("::1")->is_unspecified());
}

TEST(IpAddress, HashEqualForEqualAddresses) {
  IpAddressHash hash;
  EXPECT_EQ(hash(*IpAddress::parse("10.0.0.1")), hash(IpAddress::v4(10, 0, 0, 1)));
  EXPECT_NE(hash(*IpAddress::parse("10.0.0.1")), hash(*IpAddress::parse("10.0.0.2")));
}

}  // namespace
}  // namespace sniproxy
