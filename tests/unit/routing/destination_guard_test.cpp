#include "routing/destination_guard.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sniproxy::routing {
namespace {

IpAddress ip(const std::string& text) {
  auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

class DestinationGuardTest : public ::testing::Test {
 protected:
  // A host with one public v4 and one public v6 address, plus its loopbacks.
  DestinationGuard guard_{{ip("203.0.113.7"), ip("2001:db8::7"), ip("127.0.0.1"), ip("::1")}};
};

TEST_F(DestinationGuardTest, NonPublicRefusedUnlessAllowed) {
  const char* refused[] = {"127.0.0.1",
                           "127.255.255.254",
                           "10.0.0.1",
                           "10.255.255.255",
                           "172.16.0.1",
                           "172.31.255.255",
                           "192.168.1.1",
                           "100.64.0.1",
                           "100.127.255.255",
                           "169.254.169.254",
                           "0.0.0.0",
                           "0.1.2.3",
                           "224.0.0.1",
                           "239.255.255.255",
                           "255.255.255.255",
                           "::1",
                           "::",
                           "fe80::1",
                           "febf::1",
                           "fc00::1",
                           "fd12:3456::1",
                           "ff02::1",
                           "::ffff:127.0.0.1",
                           "::ffff:10.1.2.3",
                           "::ffff:169.254.169.254"};
  for (const char* text : refused) {
    EXPECT_FALSE(guard_.allowed(ip(text), false)) << text;
    EXPECT_TRUE(guard_.allowed(ip(text), true)) << text;
  }
}

TEST_F(DestinationGuardTest, PublicAddressesAllowed) {
  for (const char* text :
       {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0",
        "192.167.255.255", "2001:4860::8888", "2606:4700:4700::1111", "::ffff:8.8.8.8"}) {
    EXPECT_TRUE(guard_.allowed(ip(text), false)) << text;
    EXPECT_TRUE(guard_.allowed(ip(text), true)) << text;
  }
}

TEST_F(DestinationGuardTest, OwnAddressesRefusedUnlessAllowed) {
  for (const char* text : {"203.0.113.7", "::ffff:203.0.113.7", "2001:db8::7"}) {
    EXPECT_FALSE(guard_.allowed(ip(text), false)) << text;
    EXPECT_TRUE(guard_.allowed(ip(text), true)) << text;
  }
  EXPECT_TRUE(guard_.allowed(ip("203.0.113.8"), false));
  EXPECT_TRUE(guard_.allowed(ip("2001:db8::8"), false));
}

TEST(DestinationGuard, OwnAddressGivenInMappedFormMatchesPlainForm) {
  DestinationGuard guard({ip("::ffff:198.51.100.4")});
  EXPECT_FALSE(guard.allowed(ip("198.51.100.4"), false));
  EXPECT_FALSE(guard.allowed(ip("::ffff:198.51.100.4"), false));
  EXPECT_TRUE(guard.allowed(ip("198.51.100.5"), false));
}

TEST(DestinationGuard, V4AddressesWithStrayBytesCompareByTheirFourBytes) {
  IpAddress own = IpAddress::v4(198, 51, 100, 4);
  own.bytes[9] = 0xaa;  // not part of a v4 address
  DestinationGuard guard({own});
  EXPECT_FALSE(guard.allowed(IpAddress::v4(198, 51, 100, 4), false));
}

TEST(DestinationGuard, EmbeddedNonPublicV4Refused) {
  DestinationGuard guard({});
  for (const char* text : {"64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::192.168.0.1",
                           "2002:7f00:1::1", "2002:c0a8:101::1", "::127.0.0.1", "::8.8.8.8"}) {
    EXPECT_FALSE(guard.allowed(ip(text), false)) << text;
    EXPECT_TRUE(guard.allowed(ip(text), true)) << text;
  }
  EXPECT_TRUE(guard.allowed(ip("64:ff9b::8.8.8.8"), false));
  EXPECT_TRUE(guard.allowed(ip("2002:808:808::1"), false));
}

TEST(DestinationGuard, NoOwnAddresses) {
  DestinationGuard guard({});
  EXPECT_TRUE(guard.allowed(ip("8.8.8.8"), false));
  EXPECT_FALSE(guard.allowed(ip("127.0.0.1"), false));
}

}  // namespace
}  // namespace sniproxy::routing
