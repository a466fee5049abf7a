#pragma once
// The ClientHello handshake body (RFC 8446 4.1.2, RFC 5246 7.4.1.2) once the
// whole message is buffered: a plain bounds-checked walk, no state machine.
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/client_hello.hpp"

namespace sniproxy::protocol {

// Parses the body (the message without its 4-byte handshake header) into
// `info`. Returns the reason on failure; `info` is then unspecified.
std::optional<HelloError> parse_client_hello_body(std::span<const std::uint8_t> body,
                                                  ClientHelloInfo& info);

}  // namespace sniproxy::protocol
