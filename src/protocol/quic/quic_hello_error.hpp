#pragma once
// Why a client's Initial datagram gave no ClientHello: one reason per
// outcome, with a stable token for metrics and logs.
#include <string_view>

namespace sniproxy::protocol::quic {

enum class QuicHelloError {
  too_short,         // a datagram under 1200 bytes (RFC 9000 14.1)
  not_initial,       // a short header, a Version Negotiation, or another long-header type
  unknown_version,   // a long header of a version this code cannot read
  bad_header,        // lengths that do not add up, a DCID under 8 bytes, reserved bits set
  bad_tag,           // the AEAD tag does not verify: not the client's keys, or corrupted
  other_connection,  // an Initial with another DCID or version than the flow's first
  bad_frame,         // a frame that does not parse or may not appear in an Initial
  client_closed,     // a CONNECTION_CLOSE from the client
  crypto_too_large,  // CRYPTO data past the configured hello bound
  crypto_conflict,   // overlapping CRYPTO data that disagrees
  not_client_hello,  // the CRYPTO stream starts with another handshake message
  bad_hello,         // the ClientHello itself does not parse
  internal,          // libcrypto failed (not the client's fault)
};

// "too_short", "bad_tag", ...
std::string_view to_string(QuicHelloError error);

}  // namespace sniproxy::protocol::quic
