#include "common/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace sniproxy {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  // inet_pton would stop at an embedded NUL and accept "1.2.3.4\0junk".
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = Family::v6;
    return a;
  }
  return std::nullopt;
}

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = Family::v4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == Family::v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

bool IpAddress::is_unspecified() const {
  const std::size_t n = family == Family::v4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i)
    if (bytes[i] != 0) return false;
  return true;
}

IpAddress IpAddress::unmapped() const {
  if (family != Family::v6) return *this;
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kPrefix, 12) != 0) return *this;
  return v4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

bool IpAddress::is_loopback() const {
  const IpAddress a = unmapped();
  if (a.family == Family::v4) return a.bytes[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (a.bytes[i] != 0) return false;
  return a.bytes[15] == 1;
}

bool IpAddress::is_private() const {
  const IpAddress a = unmapped();
  const auto& b = a.bytes;
  if (a.family == Family::v4) {
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 100 && (b[1] & 0xc0) == 64);  // RFC 6598 carrier-grade NAT
  }
  return (b[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
}

bool IpAddress::is_link_local() const {
  const IpAddress a = unmapped();
  const auto& b = a.bytes;
  if (a.family == Family::v4) return b[0] == 169 && b[1] == 254;
  return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

bool IpAddress::is_non_public() const {
  const IpAddress a = unmapped();
  const auto& b = a.bytes;
  if (a.is_unspecified() || a.is_loopback() || a.is_private() || a.is_link_local()) return true;
  if (a.family == Family::v4) {
    return b[0] == 0 || b[0] >= 224;  // "this network", multicast, reserved, broadcast
  }
  return b[0] == 0xff;  // multicast
}

std::size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(a.family);
  for (auto byte : a.bytes) h = (h ^ byte) * 1099511628211ull;
  return h;
}

namespace {
std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}
}  // namespace

std::optional<HostPort> HostPort::parse(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (!IpAddress::parse(hp.host) || IpAddress::parse(hp.host)->family != Family::v6)
      return std::nullopt;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return std::nullopt;  // v6 needs brackets
    port = text.substr(colon + 1);
  }
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  hp.port = *p;
  return hp;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  auto hp = HostPort::parse(text);
  if (!hp) return std::nullopt;
  auto ip = IpAddress::parse(hp->host);
  if (!ip) return std::nullopt;
  return Endpoint{*ip, hp->port};
}

std::string Endpoint::to_string() const {
  if (ip.family == Family::v6) return "[" + ip.to_string() + "]:" + std::to_string(port);
  return ip.to_string() + ":" + std::to_string(port);
}

unsigned Endpoint::to_sockaddr(sockaddr_storage& storage) const {
  std::memset(&storage, 0, sizeof storage);
  if (ip.family == Family::v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa) {
  Endpoint e;
  if (sa->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    e.ip.family = Family::v4;
    std::memcpy(e.ip.bytes.data(), &sin->sin_addr, 4);
    e.port = ntohs(sin->sin_port);
    return e;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    e.ip.family = Family::v6;
    std::memcpy(e.ip.bytes.data(), &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
    return e;
  }
  return std::nullopt;
}

}  // namespace sniproxy
