#pragma once
// IP addresses and endpoints as plain values. Parsing and classification are
// pure (inet_pton/ntop only), so config/ and routing/ can use them.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;
struct sockaddr_storage;

namespace sniproxy {

enum class Family : std::uint8_t { v4, v6 };

struct IpAddress {
  Family family = Family::v4;
  // v4 uses the first 4 bytes; network byte order.
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool is_unspecified() const;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address.
  [[nodiscard]] IpAddress unmapped() const;

  // Destinations an open-proxy guard refuses by default: loopback, RFC 1918
  // and RFC 6598 private ranges, link-local, unique-local, unspecified,
  // multicast, broadcast, and the IPv4-mapped forms of all of these.
  [[nodiscard]] bool is_loopback() const;
  [[nodiscard]] bool is_private() const;
  [[nodiscard]] bool is_link_local() const;
  [[nodiscard]] bool is_non_public() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees a 0 in the defaulted <=>
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct Endpoint {
  IpAddress ip;
  std::uint16_t port = 0;

  // "1.2.3.4:443", "[::1]:443". A host name is not an endpoint.
  static std::optional<Endpoint> parse(std::string_view text);
  [[nodiscard]] std::string to_string() const;
  // Fills storage; returns the length to pass to bind/connect.
  unsigned to_sockaddr(sockaddr_storage& storage) const;
  static std::optional<Endpoint> from_sockaddr(const sockaddr* sa);

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees a 0 in the defaulted <=>
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

// "host:port" where host is a name, an IPv4 literal or a bracketed IPv6
// literal. Returns nullopt when the port is missing or out of range.
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  static std::optional<HostPort> parse(std::string_view text);
};

struct IpAddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept;
};

}  // namespace sniproxy
