#pragma once
// The QUIC versions whose client Initials the proxy can read: v1 (RFC 9000,
// RFC 9001) and v2 (RFC 9369). They differ only in the Initial salt, the
// HKDF labels and the numbering of the long-header packet types.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace sniproxy::protocol::quic {

// The two Type bits of a long header (RFC 9000 17.2), by meaning.
enum class LongPacketType { initial, zero_rtt, handshake, retry };

struct QuicVersion {
  std::uint32_t number;
  std::array<std::uint8_t, 20> initial_salt;  // RFC 9001 5.2, RFC 9369 3.3.1
  std::string_view key_label;                 // "quic key" / "quicv2 key"
  std::string_view iv_label;
  std::string_view hp_label;
  // Wire value of each LongPacketType (v2 renumbers them, RFC 9369 3.2).
  std::array<std::uint8_t, 4> type_bits;

  [[nodiscard]] LongPacketType packet_type(std::uint8_t first_byte) const;
};

inline constexpr std::uint32_t kQuicV1 = 0x00000001;
inline constexpr std::uint32_t kQuicV2 = 0x6b3343cf;

// The version's parameters; nullptr for a version this code does not read.
const QuicVersion* find_version(std::uint32_t number);

// Every version find_version knows, in order of preference (for Version
// Negotiation).
std::span<const std::uint32_t> supported_versions();

}  // namespace sniproxy::protocol::quic
