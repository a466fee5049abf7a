#pragma once
// QUIC variable-length integers (RFC 9000 16): the two high bits of the
// first byte give the length (1, 2, 4 or 8 bytes), the rest the value.
#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/byte_reader.hpp"

namespace sniproxy::protocol::quic {

inline constexpr std::uint64_t kMaxVarint = (std::uint64_t{1} << 62) - 1;

// nullopt when the encoding runs past the end of `reader`.
inline std::optional<std::uint64_t> read_varint(ByteReader& reader) {
  auto first = reader.u8();
  if (!first) return std::nullopt;
  const std::size_t extra = (std::size_t{1} << (*first >> 6)) - 1;
  auto rest = reader.bytes(extra);
  if (!rest) return std::nullopt;
  std::uint64_t value = *first & 0x3f;
  for (std::uint8_t byte : *rest) value = (value << 8) | byte;
  return value;
}

// Appends `value` (<= kMaxVarint) in its shortest encoding.
inline void append_varint(std::vector<std::uint8_t>& out, std::uint64_t value) {
  const int length_bits = value < (1u << 6)    ? 0
                          : value < (1u << 14) ? 1
                          : value < (1u << 30) ? 2
                                               : 3;
  const std::size_t size = std::size_t{1} << length_bits;
  for (std::size_t i = 0; i < size; ++i) {
    auto byte = static_cast<std::uint8_t>(value >> (8 * (size - 1 - i)));
    if (i == 0) byte = static_cast<std::uint8_t>((byte & 0x3f) | (length_bits << 6));
    out.push_back(byte);
  }
}

}  // namespace sniproxy::protocol::quic
