#pragma once
// Ethernet frames carrying TCP over IPv4 or IPv6, built byte by byte with
// correct checksums, plus the odd shapes a filter must survive: VLAN tags,
// IPv6 extension headers, fragments, truncation. Used by the SYN flood
// sender (bench/xdp) and the XDP filter tests (tests/xdp).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"

namespace sniproxy::frames {

using Bytes = std::vector<std::uint8_t>;

struct Mac {
  std::array<std::uint8_t, 6> bytes{};
  // "02:00:00:00:00:01"
  static std::optional<Mac> parse(std::string_view text);
  [[nodiscard]] std::string to_string() const;
};

inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kAck = 0x10;

// IPv6 extension headers, 8 bytes each.
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kDestinationOptions = 60;
inline constexpr std::uint8_t kFragmentHeader = 44;

struct TcpFrame {
  Mac source_mac{};
  Mac destination_mac{};
  std::vector<std::uint16_t> vlans{};  // 802.1Q tags, outermost first
  IpAddress source{};
  IpAddress destination{};  // the same family as source
  std::uint16_t source_port = 40000;
  std::uint16_t destination_port = 443;
  std::uint8_t flags = kSyn;
  std::uint32_t sequence = 1;
  Bytes payload{};
  // IPv4: the flags+fragment-offset field as sent (0x2000 = more fragments).
  std::uint16_t ipv4_fragment = 0;
  // IPv6: extension headers before TCP, in order. A fragment header gets
  // `ipv6_fragment` as its offset+M field.
  std::vector<std::uint8_t> ipv6_extensions{};
  std::uint16_t ipv6_fragment = 0;
  std::uint8_t protocol = 6;  // what the IP header says follows (6 = TCP)
};

// The whole frame.
Bytes build(const TcpFrame& frame);

// The frame's first `length` bytes (header fields still claim the full
// length): for malformed-packet tests.
Bytes truncated(Bytes frame, std::size_t length);

// Offsets of the layers in a frame built without VLAN tags or extensions.
inline constexpr std::size_t kEthernetLength = 14;
inline constexpr std::size_t kIpv4Length = 20;
inline constexpr std::size_t kIpv6Length = 40;

}  // namespace sniproxy::frames
