#include "protocol/quic/quic_version.hpp"

namespace sniproxy::protocol::quic {
namespace {

constexpr QuicVersion kV1{
    .number = kQuicV1,
    .initial_salt = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                     0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
    .key_label = "quic key",
    .iv_label = "quic iv",
    .hp_label = "quic hp",
    .type_bits = {0b00, 0b01, 0b10, 0b11},
};

constexpr QuicVersion kV2{
    .number = kQuicV2,
    .initial_salt = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                     0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
    .key_label = "quicv2 key",
    .iv_label = "quicv2 iv",
    .hp_label = "quicv2 hp",
    .type_bits = {0b01, 0b10, 0b11, 0b00},
};

constexpr std::array<std::uint32_t, 2> kSupported = {kQuicV1, kQuicV2};

}  // namespace

LongPacketType QuicVersion::packet_type(std::uint8_t first_byte) const {
  const std::uint8_t bits = (first_byte >> 4) & 0b11;
  for (std::size_t i = 0; i < type_bits.size(); ++i)
    if (type_bits[i] == bits) return static_cast<LongPacketType>(i);
  return LongPacketType::retry;  // unreachable: the four values are a permutation
}

const QuicVersion* find_version(std::uint32_t number) {
  if (number == kQuicV1) return &kV1;
  if (number == kQuicV2) return &kV2;
  return nullptr;
}

std::span<const std::uint32_t> supported_versions() {
  return kSupported;
}

}  // namespace sniproxy::protocol::quic
