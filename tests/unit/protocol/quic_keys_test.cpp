// Initial keys, header protection and the small encodings under them,
// against the values RFC 9000, RFC 9001 and RFC 9369 print.
#include <gtest/gtest.h>

#include "protocol/quic/initial_keys.hpp"
#include "protocol/quic/initial_packet.hpp"
#include "protocol/quic/packet_protection.hpp"
#include "protocol/quic/varint.hpp"
#include "quic_initial_builder.hpp"

namespace sniproxy::protocol::test {
namespace {

using quic::client_initial_keys;
using quic::find_version;

const Bytes kRfcDcid = from_hex("8394c8f03e515708");

template <std::size_t N>
Bytes bytes(const std::array<std::uint8_t, N>& array) {
  return Bytes(array.begin(), array.end());
}

TEST(QuicInitialKeys, Rfc9001A1ClientKeys) {
  const auto keys = client_initial_keys(*find_version(quic::kQuicV1), kRfcDcid);
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(bytes(keys->key), from_hex("1f369613dd76d5467730efcbe3b1a22d"));
  EXPECT_EQ(bytes(keys->iv), from_hex("fa044b2f42a3fd3b46fb255c"));
  EXPECT_EQ(bytes(keys->hp), from_hex("9f50449e04a0e810283a1e9933adedd2"));
}

TEST(QuicInitialKeys, Rfc9369A1ClientKeys) {
  const auto keys = client_initial_keys(*find_version(quic::kQuicV2), kRfcDcid);
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(bytes(keys->key), from_hex("8b1a0bc121284290a29e0971b5cd045d"));
  EXPECT_EQ(bytes(keys->iv), from_hex("91f73e2351d8fa91660e909f"));
  EXPECT_EQ(bytes(keys->hp), from_hex("45b95e15235d6f45a6b19cbcb0294ba9"));
}

void expect_mask(std::uint32_t version, std::string_view sample_hex, std::string_view mask_hex) {
  const auto keys = client_initial_keys(*find_version(version), kRfcDcid);
  ASSERT_TRUE(keys.has_value());
  const Bytes sample = from_hex(sample_hex);
  const auto mask =
      quic::header_protection_mask(keys->hp, std::span<const std::uint8_t>(sample).first<16>());
  ASSERT_TRUE(mask.has_value());
  EXPECT_EQ(bytes(*mask), from_hex(mask_hex));
}

TEST(QuicHeaderProtection, Rfc9001A2Mask) {
  expect_mask(quic::kQuicV1, "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36");
}

TEST(QuicHeaderProtection, Rfc9369A2Mask) {
  expect_mask(quic::kQuicV2, "ffe67b6abcdb4298b485dd04de806071", "94a0c95e80");
}

TEST(QuicHeaderProtection, GcmOpenRefusesShortOrForgedInput) {
  const auto keys = client_initial_keys(*find_version(quic::kQuicV1), kRfcDcid);
  ASSERT_TRUE(keys.has_value());
  const std::array<std::uint8_t, 12> nonce{};
  std::vector<std::uint8_t> plain;
  const Bytes too_short(15, 0);
  EXPECT_FALSE(quic::aes_128_gcm_open(keys->key, nonce, {}, too_short, plain));
  const Bytes zeros(40, 0);
  EXPECT_FALSE(quic::aes_128_gcm_open(keys->key, nonce, {}, zeros, plain));
}

TEST(QuicVersions, V2RenumbersTheLongHeaderTypes) {
  const auto* v1 = find_version(quic::kQuicV1);
  const auto* v2 = find_version(quic::kQuicV2);
  ASSERT_NE(v1, nullptr);
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v1->packet_type(0xc0), quic::LongPacketType::initial);
  EXPECT_EQ(v1->packet_type(0xd0), quic::LongPacketType::zero_rtt);
  EXPECT_EQ(v2->packet_type(0xd0), quic::LongPacketType::initial);  // RFC 9369 3.2: 0b01
  EXPECT_EQ(v2->packet_type(0xe0), quic::LongPacketType::zero_rtt);
  EXPECT_EQ(v2->packet_type(0xf0), quic::LongPacketType::handshake);
  EXPECT_EQ(v2->packet_type(0xc0), quic::LongPacketType::retry);
  EXPECT_EQ(find_version(0xff00001d), nullptr);  // draft-29: not read
}

// RFC 9000 A.1's examples, both ways.
TEST(QuicVarint, Rfc9000A1Examples) {
  const std::vector<std::pair<std::string_view, std::uint64_t>> examples = {
      {"c2197c5eff14e88c", 151288809941952652u},
      {"9d7f3e7d", 494878333u},
      {"7bbd", 15293u},
      {"25", 37u},
      {"4025", 37u}};
  for (const auto& [hex, value] : examples) {
    const Bytes encoded = from_hex(hex);
    ByteReader reader(encoded);
    EXPECT_EQ(quic::read_varint(reader), value) << hex;
    EXPECT_TRUE(reader.empty());
  }
  for (std::uint64_t value :
       {0ul, 63ul, 64ul, 16383ul, 16384ul, 1073741823ul, 1073741824ul, quic::kMaxVarint}) {
    Bytes out;
    quic::append_varint(out, value);
    ByteReader reader(out);
    EXPECT_EQ(quic::read_varint(reader), value);
  }
  const Bytes cut = from_hex("c2197c");
  ByteReader reader(cut);
  EXPECT_FALSE(quic::read_varint(reader).has_value());
}

// RFC 9000 A.3's example, and the first packet of a flow.
TEST(QuicPacketNumber, DecodesTruncatedNumbers) {
  EXPECT_EQ(quic::decode_packet_number(0xa82f30ea, 0x9b32, 16), 0xa82f9b32u);
  EXPECT_EQ(quic::decode_packet_number(std::nullopt, 2, 32), 2u);
  EXPECT_EQ(quic::decode_packet_number(std::nullopt, 0, 8), 0u);
  EXPECT_EQ(quic::decode_packet_number(255, 0x00, 8), 256u);
}

}  // namespace
}  // namespace sniproxy::protocol::test
