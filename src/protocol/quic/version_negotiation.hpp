#pragma once
// The Version Negotiation packet a server sends for a version it does not
// speak (RFC 9000 6, 17.2.1), so that the client can retry with one it does.
#include <cstdint>
#include <span>
#include <vector>

namespace sniproxy::protocol::quic {

// Echoes the client's connection IDs swapped (the client's SCID becomes the
// DCID) and lists `versions`. `unused_bits` fills the 7 bits after the form
// bit (the caller brings randomness; RFC 9000 17.2.1 asks for arbitrary
// values). Never send one in answer to a Version Negotiation packet or to a
// datagram under 1200 bytes.
std::vector<std::uint8_t> version_negotiation_packet(std::span<const std::uint8_t> client_dcid,
                                                     std::span<const std::uint8_t> client_scid,
                                                     std::span<const std::uint32_t> versions,
                                                     std::uint8_t unused_bits);

}  // namespace sniproxy::protocol::quic
