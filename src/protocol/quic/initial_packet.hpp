#pragma once
// Opening the client's Initial packets in one UDP datagram: coalesced
// packets walked by their Length field (RFC 9000 12.2), header protection
// removed (RFC 9001 5.4) and the payload opened with its tag checked
// (RFC 9001 5.3), always on a copy: the datagram itself is left as it came.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/quic/initial_keys.hpp"
#include "protocol/quic/quic_hello_error.hpp"
#include "protocol/quic/quic_version.hpp"

namespace sniproxy::protocol::quic {

inline constexpr std::size_t kMaxConnectionIdSize = 20;  // RFC 9000 17.2, v1 and v2

// The flow one datagram is read for: the version and original DCID of the
// client's first Initial, the keys derived from it, and the largest packet
// number opened so far (updated here, for decoding truncated numbers).
struct InitialFlow {
  const QuicVersion* version = nullptr;
  std::vector<std::uint8_t> dcid;
  InitialKeys keys;
  std::optional<std::uint64_t> largest_packet_number;
};

struct OpenedDatagram {
  std::vector<std::vector<std::uint8_t>> payloads;  // the frames of each Initial opened, in order
  std::optional<QuicHelloError> stopped;            // why the walk ended before the datagram did
};

// Walks the datagram's packets: Initials of the flow are opened, 0-RTT and
// Handshake packets are skipped by their Length, and a short header (or
// trailing zero padding) ends the datagram. The walk stops at the first
// packet that does not parse, belongs to another flow (version or DCID,
// RFC 9000 12.2), or fails to open; payloads opened before it are kept.
OpenedDatagram open_client_initials(std::span<const std::uint8_t> datagram, InitialFlow& flow);

// RFC 9000 A.3: the full packet number from its `bits`-bit truncation and
// the largest number seen so far (nullopt before any).
std::uint64_t decode_packet_number(std::optional<std::uint64_t> largest, std::uint64_t truncated,
                                   unsigned bits);

}  // namespace sniproxy::protocol::quic
