#pragma once
// Test-side client Initials: frames chosen by the test, sealed with the
// same Initial keys and header protection a client uses (RFC 9001 5), so
// tests can state exactly how a client split, ordered and spread its hello.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/quic/quic_version.hpp"

namespace sniproxy::protocol::test {

using Bytes = std::vector<std::uint8_t>;

Bytes from_hex(std::string_view hex);

Bytes crypto_frame(std::uint64_t offset, std::span<const std::uint8_t> data);
Bytes ping_frame();
Bytes ack_frame(std::uint64_t largest);
// CRYPTO frames over `message` cut at `cuts` (offsets), in the given order
// of pieces, e.g. cuts {100, 300} and order {2, 0, 1}.
Bytes crypto_pieces(const Bytes& message, const std::vector<std::size_t>& cuts,
                    const std::vector<std::size_t>& order);

struct InitialSpec {
  std::uint32_t version = quic::kQuicV1;
  Bytes dcid = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
  Bytes scid = {0x01, 0x02, 0x03, 0x04};
  Bytes token;
  std::uint64_t packet_number = 0;
  std::size_t packet_number_size = 2;  // 1..4 bytes on the wire
  Bytes frames;
};

// One protected client Initial packet.
Bytes seal_initial(const InitialSpec& spec);
// The same with PADDING frames appended until the packet is >= `size` bytes.
Bytes padded_initial(InitialSpec spec, std::size_t size = 1200);
// A 0-RTT packet of the spec's version and connection IDs with an opaque
// payload: only its Length matters to a reader without 0-RTT keys.
Bytes zero_rtt_packet(const InitialSpec& spec, std::size_t payload_size);

// A ClientHello handshake message (no record header) for `server_name`,
// with quic_transport_parameters carrying max_idle_timeout `idle_ms`, and a
// padding extension of `extra` bytes (standing in for a post-quantum key
// share) when `extra` > 0, and ALPN offering `alpn` when it is not empty.
Bytes quic_client_hello(std::string_view server_name, std::uint64_t idle_ms, std::size_t extra = 0,
                        std::initializer_list<std::string_view> alpn = {});

}  // namespace sniproxy::protocol::test
