#pragma once
// The frames of one decrypted client Initial (RFC 9000 12.4, 19): CRYPTO
// data goes to the assembler; PADDING, PING and ACK are stepped over;
// CONNECTION_CLOSE (0x1c) means the client gave up; any other frame type
// may not appear in an Initial and makes the packet malformed.
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/quic/crypto_assembler.hpp"
#include "protocol/quic/quic_hello_error.hpp"

namespace sniproxy::protocol::quic {

// Reads every frame of `payload`; stops at the first error (bad_frame,
// client_closed, or the assembler's). A payload without frames is bad_frame.
std::optional<QuicHelloError> read_initial_frames(std::span<const std::uint8_t> payload,
                                                  CryptoAssembler& crypto);

}  // namespace sniproxy::protocol::quic
