#include "protocol/quic/long_header.hpp"

#include "protocol/byte_reader.hpp"

namespace sniproxy::protocol::quic {

std::optional<LongHeaderIds> read_long_header_ids(std::span<const std::uint8_t> packet) {
  ByteReader reader(packet);
  auto first = reader.u8();
  if (!first || (*first & kLongHeaderBit) == 0) return std::nullopt;
  auto version = reader.uint(4);
  auto dcid_len = reader.u8();
  if (!version || !dcid_len) return std::nullopt;
  auto dcid = reader.bytes(*dcid_len);
  auto scid_len = reader.u8();
  if (!dcid || !scid_len) return std::nullopt;
  auto scid = reader.bytes(*scid_len);
  if (!scid) return std::nullopt;
  return LongHeaderIds{.first_byte = *first,
                       .version = *version,
                       .dcid = *dcid,
                       .scid = *scid,
                       .size = packet.size() - reader.remaining()};
}

}  // namespace sniproxy::protocol::quic
