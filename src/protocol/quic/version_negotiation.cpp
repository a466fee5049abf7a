#include "protocol/quic/version_negotiation.hpp"

#include "protocol/quic/long_header.hpp"

namespace sniproxy::protocol::quic {
namespace {

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// Connection IDs come from a parsed header, so they fit the 1-byte length.
void append_cid(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> cid) {
  const auto size = cid.size() > 255 ? 255 : cid.size();
  out.push_back(static_cast<std::uint8_t>(size));
  out.insert(out.end(), cid.begin(), cid.begin() + static_cast<std::ptrdiff_t>(size));
}

}  // namespace

std::vector<std::uint8_t> version_negotiation_packet(std::span<const std::uint8_t> client_dcid,
                                                     std::span<const std::uint8_t> client_scid,
                                                     std::span<const std::uint32_t> versions,
                                                     std::uint8_t unused_bits) {
  std::vector<std::uint8_t> packet;
  packet.push_back(static_cast<std::uint8_t>(kLongHeaderBit | (unused_bits & 0x7f)));
  append_u32(packet, 0);  // the Version Negotiation version
  append_cid(packet, client_scid);
  append_cid(packet, client_dcid);
  for (std::uint32_t version : versions) append_u32(packet, version);
  return packet;
}

}  // namespace sniproxy::protocol::quic
