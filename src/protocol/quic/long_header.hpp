#pragma once
// The version-independent part of a QUIC long header (RFC 8999 5.1): what
// can be read from a packet of any version, known or not.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace sniproxy::protocol::quic {

inline constexpr std::uint8_t kLongHeaderBit = 0x80;

struct LongHeaderIds {
  std::uint8_t first_byte = 0;
  std::uint32_t version = 0;  // 0 is a Version Negotiation packet
  std::span<const std::uint8_t> dcid;
  std::span<const std::uint8_t> scid;
  std::size_t size = 0;  // bytes up to the end of the SCID
};

// nullopt for a short header or a long header cut short. Connection IDs
// may be up to 255 bytes here; version 1 and 2 allow 20 (checked later).
std::optional<LongHeaderIds> read_long_header_ids(std::span<const std::uint8_t> packet);

}  // namespace sniproxy::protocol::quic
