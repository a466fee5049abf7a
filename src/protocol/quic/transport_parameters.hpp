#pragma once
// Reading the client's QUIC transport parameters (RFC 9000 18), carried in
// the ClientHello's quic_transport_parameters extension.
#include <cstdint>
#include <optional>
#include <span>

namespace sniproxy::protocol::quic {

// max_idle_timeout (0x01, milliseconds; RFC 9000 18.2). nullopt when absent
// or when the parameters do not parse; 0 as sent (both mean the client set
// no idle timeout of its own).
std::optional<std::uint64_t> max_idle_timeout_ms(std::span<const std::uint8_t> parameters);

}  // namespace sniproxy::protocol::quic
