#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "common/address.hpp"

namespace sniproxy {
namespace {

TEST(Endpoint, ParsesV4AndV6) {
  auto v4 = Endpoint::parse("1.2.3.4:443");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->ip, IpAddress::v4(1, 2, 3, 4));
  EXPECT_EQ(v4->port, 443);
  EXPECT_EQ(v4->to_string(), "1.2.3.4:443");

  auto v6 = Endpoint::parse("[::1]:443");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->ip, *IpAddress::parse("::1"));
  EXPECT_EQ(v6->port, 443);
  EXPECT_EQ(v6->to_string(), "[::1]:443");
}

TEST(Endpoint, PortRange) {
  EXPECT_EQ(Endpoint::parse("1.2.3.4:1")->port, 1);
  EXPECT_EQ(Endpoint::parse("1.2.3.4:65535")->port, 65535);
  EXPECT_FALSE(Endpoint::parse("1.2.3.4:0").has_value());
  EXPECT_FALSE(Endpoint::parse("1.2.3.4:65536").has_value());
  EXPECT_FALSE(Endpoint::parse("1.2.3.4:99999").has_value());
  EXPECT_FALSE(Endpoint::parse("1.2.3.4:100000").has_value());
}

TEST(Endpoint, Rejects) {
  for (const char* text :
       {"::1:443", "host:443", ":443", "1.2.3.4", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:+443",
        "1.2.3.4: 443", "1.2.3.4:443 ", "1.2.3.4:44a", "[::1]", "[::1]443", "[::1]:", "::1",
        "[1.2.3.4]:443", "[::1:443", "[]:443", "", "[fe80::1%eth0]:443"}) {
    EXPECT_FALSE(Endpoint::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(Endpoint, ToStringRoundTrips) {
  for (const char* text : {"1.2.3.4:443", "[::1]:80", "[2001:db8::1]:65535", "0.0.0.0:8443"}) {
    auto e = Endpoint::parse(text);
    ASSERT_TRUE(e.has_value()) << text;
    EXPECT_EQ(e->to_string(), text);
  }
}

TEST(Endpoint, SockaddrRoundTripV4) {
  const Endpoint e = *Endpoint::parse("192.0.2.10:8443");
  sockaddr_storage storage;
  const unsigned len = e.to_sockaddr(storage);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 8443);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0xC000020Au);
  auto back = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, e);
}

TEST(Endpoint, SockaddrRoundTripV6) {
  const Endpoint e = *Endpoint::parse("[2001:db8::42]:443");
  sockaddr_storage storage;
  const unsigned len = e.to_sockaddr(storage);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 443);
  EXPECT_EQ(sin6->sin6_addr.s6_addr[0], 0x20);
  EXPECT_EQ(sin6->sin6_addr.s6_addr[15], 0x42);
  EXPECT_EQ(sin6->sin6_scope_id, 0u);
  auto back = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, e);
}

TEST(Endpoint, FromSockaddrRejectsOtherFamilies) {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof storage);
  storage.ss_family = AF_UNIX;
  EXPECT_FALSE(Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage)).has_value());
}

TEST(HostPort, Names) {
  auto hp = HostPort::parse("backend.example.com:8443");
  ASSERT_TRUE(hp.has_value());
  EXPECT_EQ(hp->host, "backend.example.com");
  EXPECT_EQ(hp->port, 8443);
  EXPECT_EQ(HostPort::parse("localhost:80")->host, "localhost");
}

TEST(HostPort, V4AndBracketedV6) {
  auto v4 = HostPort::parse("10.0.0.1:443");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 443);
  auto v6 = HostPort::parse("[2001:db8::1]:443");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "2001:db8::1");  // without brackets
  EXPECT_EQ(v6->port, 443);
}

TEST(HostPort, Rejects) {
  for (const char* text :
       {"example.com", "example.com:", ":443", "example.com:0", "example.com:65536", "::1:443",
        "2001:db8::1:443", "[example.com]:443", "[1.2.3.4]:443", "[::1]", "[::1]x443", "", ":"}) {
    EXPECT_FALSE(HostPort::parse(text).has_value()) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace sniproxy
