#pragma once
// The client's Initial CRYPTO stream put back together: CRYPTO frames carry
// (offset, bytes) in any order, split, repeated or overlapping, across
// packets and datagrams (RFC 9000 19.6). The stream starts with the
// ClientHello's 4-byte handshake header (no TLS record layer, RFC 9001 4).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/quic/quic_hello_error.hpp"

namespace sniproxy::protocol::quic {

class CryptoAssembler {
 public:
  // max_size bounds the ClientHello message (header included), in bytes;
  // no byte past it is ever stored.
  explicit CryptoAssembler(std::size_t max_size) : max_size_(max_size) {}

  // Places `data` at stream offset `offset`. Fails on data past the bound
  // (crypto_too_large), on bytes that differ from bytes already placed at
  // the same offsets (crypto_conflict), or on a first message that is not
  // a ClientHello (not_client_hello).
  std::optional<QuicHelloError> place(std::uint64_t offset, std::span<const std::uint8_t> data);

  // True once the whole ClientHello, [0, 4 + its length), is in.
  [[nodiscard]] bool complete() const;
  // The ClientHello body (without the 4-byte header); valid once complete.
  [[nodiscard]] std::span<const std::uint8_t> hello_body() const;

 private:
  static constexpr std::size_t kHeaderSize = 4;
  std::optional<QuicHelloError> check_header();

  std::size_t max_size_;
  std::vector<std::uint8_t> bytes_;
  std::vector<bool> present_;                // which offsets of bytes_ hold data
  std::size_t contiguous_ = 0;               // bytes [0, contiguous_) are all present
  std::optional<std::size_t> message_size_;  // header + body, once the header is in
};

}  // namespace sniproxy::protocol::quic
