#include "protocol/quic/crypto_assembler.hpp"

namespace sniproxy::protocol::quic {
namespace {

constexpr std::uint8_t kClientHello = 1;

}  // namespace

std::optional<QuicHelloError> CryptoAssembler::place(std::uint64_t offset,
                                                     std::span<const std::uint8_t> data) {
  const std::size_t limit = message_size_.value_or(max_size_);
  // Bytes past the ClientHello's end (once known) would be a second
  // handshake message, which a client's Initial never carries; past the
  // bound they are refused before anything is stored.
  if (offset > limit || data.size() > limit - offset) return QuicHelloError::crypto_too_large;
  const auto start = static_cast<std::size_t>(offset);
  const std::size_t end = start + data.size();
  if (end > bytes_.size()) {
    bytes_.resize(end);
    present_.resize(end);
  }
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = start + i;
    if (present_[at]) {
      if (bytes_[at] != data[i]) return QuicHelloError::crypto_conflict;
      continue;
    }
    bytes_[at] = data[i];
    present_[at] = true;
  }
  while (contiguous_ < present_.size() && present_[contiguous_]) ++contiguous_;
  return check_header();
}

std::optional<QuicHelloError> CryptoAssembler::check_header() {
  if (!present_.empty() && present_[0] && bytes_[0] != kClientHello)
    return QuicHelloError::not_client_hello;
  if (message_size_ || contiguous_ < kHeaderSize) return std::nullopt;
  const std::size_t body_size =
      (std::size_t{bytes_[1]} << 16) | (std::size_t{bytes_[2]} << 8) | bytes_[3];
  if (kHeaderSize + body_size > max_size_) return QuicHelloError::crypto_too_large;
  message_size_ = kHeaderSize + body_size;
  if (bytes_.size() > *message_size_) return QuicHelloError::crypto_too_large;
  return std::nullopt;
}

bool CryptoAssembler::complete() const {
  return message_size_ && contiguous_ >= *message_size_;
}

std::span<const std::uint8_t> CryptoAssembler::hello_body() const {
  if (!complete()) return {};
  return std::span<const std::uint8_t>(bytes_).subspan(kHeaderSize, *message_size_ - kHeaderSize);
}

}  // namespace sniproxy::protocol::quic
