// PROXY protocol headers byte for byte against the haproxy spec, and round
// trips through the parser.
#include "protocol/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hello_bytes.hpp"

namespace sniproxy::protocol {
namespace {

using test::as_bytes;
using test::Bytes;

Endpoint endpoint(std::string_view text) {
  auto parsed = Endpoint::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(Endpoint{});
}

const Bytes kSignature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

Bytes with_signature(const Bytes& rest) {
  Bytes out = kSignature;
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

TEST(ProxyV1, Ipv4) {
  EXPECT_EQ(proxy_v1_header(endpoint("192.0.2.1:56324"), endpoint("198.51.100.2:443")),
            "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
}

TEST(ProxyV1, Ipv6) {
  EXPECT_EQ(proxy_v1_header(endpoint("[2001:db8::1]:56324"), endpoint("[2001:db8::2]:443")),
            "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n");
}

TEST(ProxyV1, MixedFamiliesUseMappedIpv6) {
  EXPECT_EQ(proxy_v1_header(endpoint("192.0.2.1:56324"), endpoint("[2001:db8::2]:443")),
            "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 56324 443\r\n");
  EXPECT_EQ(proxy_v1_header(endpoint("[2001:db8::1]:1"), endpoint("198.51.100.2:443")),
            "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 1 443\r\n");
}

TEST(ProxyV1, WorstCaseFitsTheSpecLimit) {
  const auto line = proxy_v1_header(endpoint("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
                                    endpoint("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"));
  EXPECT_EQ(line.size(), 104u);
  EXPECT_LE(line.size(), 107u);
}

TEST(ProxyV2, Ipv4WithAuthority) {
  const Bytes expected = with_signature({
      0x21, 0x11, 0x00, 0x1a,                          // v2 PROXY, TCP over IPv4, 26 bytes
      0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,  // 192.0.2.1, 198.51.100.2
      0xdc, 0x04, 0x01, 0xbb,                          // 56324, 443
      0x02, 0x00, 0x0b, 'e',  'x',  'a',  'm',  'p',  'l', 'e', '.', 'c', 'o', 'm',  // AUTHORITY
  });
  EXPECT_EQ(
      proxy_v2_header(endpoint("192.0.2.1:56324"), endpoint("198.51.100.2:443"), "example.com"),
      expected);
}

TEST(ProxyV2, Ipv6WithoutAuthority) {
  const Bytes expected = with_signature({
      0x21, 0x21, 0x00, 0x24,                          // v2 PROXY, TCP over IPv6, 36 bytes
      0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // 2001:db8::1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  //
      0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,  // 2001:db8::2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  //
      0xdc, 0x04, 0x01, 0xbb,                          // 56324, 443
  });
  EXPECT_EQ(proxy_v2_header(endpoint("[2001:db8::1]:56324"), endpoint("[2001:db8::2]:443"), ""),
            expected);
}

TEST(ProxyV2, MixedFamiliesUseMappedIpv6) {
  const auto header =
      proxy_v2_header(endpoint("192.0.2.1:56324"), endpoint("[2001:db8::2]:443"), "");
  ASSERT_EQ(header.size(), 16u + 36u);
  EXPECT_EQ(header[13], 0x21);
  const Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x01};
  EXPECT_EQ(Bytes(header.begin() + 16, header.begin() + 32), mapped);
}

TEST(ProxyRoundTrip, V1) {
  for (auto [src, dst] : {std::pair{"192.0.2.1:56324", "198.51.100.2:443"},
                          std::pair{"[2001:db8::1]:1", "[::1]:65535"},
                          std::pair{"0.0.0.0:1", "255.255.255.255:80"}}) {
    const std::string text = proxy_v1_header(endpoint(src), endpoint(dst)) + "payload";
    const auto parsed = parse_proxy_header(as_bytes(text));
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->version, 1);
    EXPECT_FALSE(parsed->local);
    EXPECT_EQ(parsed->source, endpoint(src));
    EXPECT_EQ(parsed->destination, endpoint(dst));
    EXPECT_EQ(parsed->size, text.size() - 7);
  }
}

TEST(ProxyRoundTrip, V2) {
  for (auto [src, dst, authority] :
       {std::tuple{"192.0.2.1:56324", "198.51.100.2:443", "example.com"},
        std::tuple{"[2001:db8::1]:1", "[::1]:65535", ""},
        std::tuple{"[2001:db8::1]:1", "[::1]:65535", "a.very.long.name.example.org"}}) {
    Bytes header = proxy_v2_header(endpoint(src), endpoint(dst), authority);
    const std::size_t size = header.size();
    header.insert(header.end(), {'x', 'y'});
    const auto parsed = parse_proxy_header(header);
    ASSERT_TRUE(parsed) << src;
    EXPECT_EQ(parsed->version, 2);
    EXPECT_FALSE(parsed->local);
    EXPECT_EQ(parsed->source, endpoint(src));
    EXPECT_EQ(parsed->destination, endpoint(dst));
    EXPECT_EQ(parsed->authority, authority);
    EXPECT_EQ(parsed->size, size);
  }
}

TEST(ProxyRoundTrip, MixedFamiliesComeBackMapped) {
  const auto parsed = parse_proxy_header(
      proxy_v2_header(endpoint("192.0.2.1:5"), endpoint("[2001:db8::2]:443"), "x"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->source, endpoint("[::ffff:192.0.2.1]:5"));
  EXPECT_EQ(parsed->source.ip.unmapped(), IpAddress::v4(192, 0, 2, 1));
}

TEST(ProxyParse, EveryPrefixIsIncomplete) {
  const std::string v1 = proxy_v1_header(endpoint("192.0.2.1:1"), endpoint("192.0.2.2:2"));
  for (std::size_t n = 0; n < v1.size(); ++n)
    EXPECT_FALSE(parse_proxy_header(as_bytes(std::string_view(v1).substr(0, n)))) << n;
  const Bytes v2 = proxy_v2_header(endpoint("192.0.2.1:1"), endpoint("192.0.2.2:2"), "name");
  for (std::size_t n = 0; n < v2.size(); ++n)
    EXPECT_FALSE(parse_proxy_header(std::span<const std::uint8_t>(v2.data(), n))) << n;
}

TEST(ProxyParse, V1Unknown) {
  for (std::string_view text : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ff::1 ff::2 1 2\r\n"}) {
    const auto parsed = parse_proxy_header(as_bytes(text));
    ASSERT_TRUE(parsed) << text;
    EXPECT_TRUE(parsed->local);
    EXPECT_EQ(parsed->size, text.size());
  }
}

TEST(ProxyParse, V1Malformed) {
  for (std::string_view text : {
           "PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n",
           "PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n",
           "PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n",
           "PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n",
           "PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n",
           "PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n",
           "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n",
           "PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n",
           "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n",
           "proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
           "GET / HTTP/1.1\r\n",
       }) {
    EXPECT_FALSE(parse_proxy_header(as_bytes(text))) << text;
  }
  const std::string too_long = "PROXY UNKNOWN " + std::string(100, 'x') + "\r\n";
  EXPECT_FALSE(parse_proxy_header(as_bytes(too_long)));
}

TEST(ProxyParse, V2Local) {
  const Bytes local = with_signature({0x20, 0x00, 0x00, 0x00});
  const auto parsed = parse_proxy_header(local);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->version, 2);
  EXPECT_TRUE(parsed->local);
  EXPECT_EQ(parsed->size, 16u);
}

TEST(ProxyParse, V2SkipsOtherTlvs) {
  Bytes header = proxy_v2_header(endpoint("192.0.2.1:1"), endpoint("192.0.2.2:2"), "");
  header[15] += 7;
  header.insert(header.end(), {0x04, 0x00, 0x04, 1, 2, 3, 4});  // PP2_TYPE_NOOP
  const auto parsed = parse_proxy_header(header);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->authority, "");
  EXPECT_EQ(parsed->size, header.size());
}

TEST(ProxyParse, V2Malformed) {
  const Bytes good = proxy_v2_header(endpoint("192.0.2.1:1"), endpoint("192.0.2.2:2"), "name");
  auto mutate = [&](std::size_t at, std::uint8_t value) {
    Bytes b = good;
    b[at] = value;
    return b;
  };
  EXPECT_FALSE(parse_proxy_header(mutate(12, 0x11)));          // version 1 in a v2 header
  EXPECT_FALSE(parse_proxy_header(mutate(12, 0x22)));          // unknown command
  EXPECT_FALSE(parse_proxy_header(mutate(13, 0x31)));          // AF_UNIX for PROXY
  EXPECT_FALSE(parse_proxy_header(mutate(13, 0x12)));          // UDP
  EXPECT_FALSE(parse_proxy_header(mutate(15, 11)));            // shorter than the address block
  EXPECT_FALSE(parse_proxy_header(mutate(15, good[15] - 1)));  // TLV cut short
  EXPECT_FALSE(parse_proxy_header(mutate(30, 9)));             // TLV length overflows
  EXPECT_FALSE(parse_proxy_header(mutate(15, good[15] + 1)));  // incomplete
  EXPECT_FALSE(parse_proxy_header(mutate(3, 0x00)));           // broken signature
}

// Every prefix of a valid header is incomplete, never malformed: a header
// split across segments waits for the rest.
TEST(ProxyHeaderScan, EveryPrefixOfAValidHeaderNeedsMore) {
  const auto v1 = proxy_v1_header(endpoint("192.0.2.1:5000"), endpoint("198.51.100.2:443"));
  const auto v2 =
      proxy_v2_header(endpoint("[2001:db8::1]:5000"), endpoint("[2001:db8::2]:443"), "a.example");
  for (const Bytes& whole : {Bytes(v1.begin(), v1.end()), v2}) {
    for (std::size_t n = 0; n < whole.size(); ++n) {
      auto scan = scan_proxy_header(std::span(whole).first(n), 4096);
      EXPECT_EQ(scan.status, ParseStatus::need_more) << "prefix " << n;
      EXPECT_GE(scan.needed, 1u);
      EXPECT_LE(n + scan.needed, whole.size()) << "prefix " << n;
    }
    Bytes with_hello = whole;
    with_hello.push_back(0x16);  // the ClientHello that follows stays unread
    auto scan = scan_proxy_header(with_hello, 4096);
    ASSERT_EQ(scan.status, ParseStatus::done);
    EXPECT_EQ(scan.header.size, whole.size());
  }
  auto v2_scan = scan_proxy_header(v2, 4096);
  EXPECT_EQ(v2_scan.header.source, endpoint("[2001:db8::1]:5000"));
  EXPECT_EQ(v2_scan.header.authority, "a.example");
}

TEST(ProxyHeaderScan, MalformedOrForeignBytesAreRejectedAtOnce) {
  auto scan = [](std::string_view text) { return scan_proxy_header(as_bytes(text), 4096).status; };
  EXPECT_EQ(scan("\x16\x03\x01"), ParseStatus::rejected);  // a ClientHello, no header
  EXPECT_EQ(scan("GET / HTTP/1.1\r\n"), ParseStatus::rejected);
  EXPECT_EQ(scan("PROXX "), ParseStatus::rejected);
  EXPECT_EQ(scan("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ParseStatus::rejected);
  EXPECT_EQ(scan("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), ParseStatus::rejected);
  EXPECT_EQ(scan("PROXY " + std::string(120, 'x')), ParseStatus::rejected);  // no CRLF in 107
  EXPECT_EQ(scan("PROXY UNKNOWN\r\n"), ParseStatus::done);
  // A v2 header whose length says more than the bound is not waited for.
  Bytes huge = with_signature({0x21, 0x11, 0xff, 0xff});
  EXPECT_EQ(scan_proxy_header(huge, 4096).status, ParseStatus::rejected);
  // Version 1 in the v2 signature's version nibble.
  Bytes bad_version = with_signature({0x11, 0x11, 0x00, 0x0c});
  bad_version.resize(bad_version.size() + 12);
  EXPECT_EQ(scan_proxy_header(bad_version, 4096).status, ParseStatus::rejected);
}

}  // namespace
}  // namespace sniproxy::protocol
