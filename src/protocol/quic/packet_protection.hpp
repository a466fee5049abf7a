#pragma once
// The two AES operations that unprotect an Initial packet (RFC 9001 5.3,
// 5.4.3): the header protection mask and AEAD_AES_128_GCM opening.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace sniproxy::protocol::quic {

inline constexpr std::size_t kSampleSize = 16;
inline constexpr std::size_t kTagSize = 16;

// AES-128-ECB(hp, sample), first 5 bytes: byte 0 masks the first byte's low
// bits, bytes 1..4 the packet number. nullopt only if libcrypto fails.
std::optional<std::array<std::uint8_t, 5>> header_protection_mask(
    std::span<const std::uint8_t, 16> hp, std::span<const std::uint8_t, kSampleSize> sample);

// Opens `sealed` (ciphertext then the 16-byte tag) into `plain`; false if the
// tag does not verify (or `sealed` is shorter than a tag). `plain` is
// resized to the plaintext size; its contents are unspecified on failure.
bool aes_128_gcm_open(std::span<const std::uint8_t, 16> key,
                      std::span<const std::uint8_t, 12> nonce, std::span<const std::uint8_t> aad,
                      std::span<const std::uint8_t> sealed, std::vector<std::uint8_t>& plain);

}  // namespace sniproxy::protocol::quic
