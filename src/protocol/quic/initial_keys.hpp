#pragma once
// The keys that protect a client's Initial packets (RFC 9001 5.2): anyone
// who sees the first Initial's Destination Connection ID can derive them,
// which is what lets a proxy read the ClientHello without terminating TLS.
#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/quic/quic_version.hpp"

namespace sniproxy::protocol::quic {

struct InitialKeys {
  std::array<std::uint8_t, 16> key{};  // AEAD_AES_128_GCM key
  std::array<std::uint8_t, 12> iv{};   // XORed with the packet number for the nonce
  std::array<std::uint8_t, 16> hp{};   // header protection key (AES-128-ECB)
};

// initial_secret = HKDF-Extract(salt, dcid); client_initial_secret =
// HKDF-Expand-Label(initial_secret, "client in", "", 32); then key, iv and hp
// with the version's labels. nullopt only if libcrypto fails.
std::optional<InitialKeys> client_initial_keys(const QuicVersion& version,
                                               std::span<const std::uint8_t> dcid);

}  // namespace sniproxy::protocol::quic
