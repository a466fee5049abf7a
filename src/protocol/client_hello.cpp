#include "protocol/client_hello.hpp"

#include <algorithm>

#include "protocol/client_hello_body.hpp"

namespace sniproxy::protocol {
namespace {

constexpr std::uint8_t kContentHandshake = 22;
constexpr std::uint8_t kContentChangeCipherSpec = 20;
constexpr std::uint8_t kContentHeartbeat = 24;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::uint8_t kTlsMajorVersion = 3;
// RFC 8446 5.1 allows 2^14 for plaintext; accept the TLS 1.2 ciphertext
// allowance as well so that lenient peers still get through.
constexpr std::size_t kMaxRecordPayload = (1u << 14) + 256;

}  // namespace

std::string_view to_string(HelloError error) {
  switch (error) {
    case HelloError::not_tls:
      return "not_tls";
    case HelloError::sslv2:
      return "sslv2";
    case HelloError::not_handshake:
      return "not_handshake";
    case HelloError::not_client_hello:
      return "not_client_hello";
    case HelloError::bad_record:
      return "bad_record";
    case HelloError::bad_handshake:
      return "bad_handshake";
    case HelloError::bad_extension:
      return "bad_extension";
    case HelloError::bad_server_name:
      return "bad_server_name";
    case HelloError::too_large:
      return "too_large";
  }
  return "unknown";
}

ClientHelloParser::ClientHelloParser(std::size_t max_size) : max_size_(max_size) {}

ParseStatus ClientHelloParser::reject(HelloError error) {
  error_ = error;
  status_ = ParseStatus::rejected;
  handshake_ = {};
  return status_;
}

std::optional<HelloError> ClientHelloParser::check_header_byte() const {
  const bool first_record = records_seen_ == 0;
  const std::uint8_t byte = header_[header_len_ - 1];
  switch (header_len_) {
    case 1:
      if (byte == kContentHandshake) return std::nullopt;
      if (!first_record) return HelloError::bad_record;
      if (byte & 0x80) return HelloError::sslv2;
      if (byte >= kContentChangeCipherSpec && byte <= kContentHeartbeat)
        return HelloError::not_handshake;
      return HelloError::not_tls;
    case 2:
      if (byte == kTlsMajorVersion) return std::nullopt;
      return first_record ? HelloError::not_tls : HelloError::bad_record;
    case 5: {
      const std::size_t length = (std::size_t{header_[3]} << 8) | header_[4];
      // RFC 8446 5.1: no zero-length handshake fragments.
      if (length == 0 || length > kMaxRecordPayload) return HelloError::bad_record;
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::size_t ClientHelloParser::handshake_target() const {
  return message_size_ ? *message_size_ : kHandshakeHeaderSize;
}

std::size_t ClientHelloParser::take_payload(std::span<const std::uint8_t> bytes) {
  const std::size_t want = handshake_target() - handshake_.size();
  const std::size_t count = std::min({bytes.size(), record_remaining_, want});
  const auto taken = bytes.first(count);
  handshake_.insert(handshake_.end(), taken.begin(), taken.end());
  record_remaining_ -= count;
  return count;
}

ParseStatus ClientHelloParser::feed(std::span<const std::uint8_t> bytes) {
  std::size_t pos = 0;
  while (status_ == ParseStatus::need_more && pos < bytes.size()) {
    // Every wire byte counts against the bound, record headers included.
    if (wire_bytes_ >= max_size_) return reject(HelloError::too_large);
    if (record_remaining_ == 0) {
      header_[header_len_++] = bytes[pos++];
      ++wire_bytes_;
      if (auto error = check_header_byte()) return reject(*error);
      if (header_len_ == kRecordHeaderSize) {
        record_remaining_ = (std::size_t{header_[3]} << 8) | header_[4];
        header_len_ = 0;
        ++records_seen_;
      }
      continue;
    }
    const std::size_t max_take = std::min(bytes.size() - pos, max_size_ - wire_bytes_);
    const std::size_t taken = take_payload(bytes.subspan(pos, max_take));
    pos += taken;
    wire_bytes_ += taken;
    if (handshake_.empty()) continue;
    if (handshake_[0] != kHandshakeClientHello) return reject(HelloError::not_client_hello);
    if (!message_size_ && handshake_.size() == kHandshakeHeaderSize) {
      const std::size_t body =
          (std::size_t{handshake_[1]} << 16) | (std::size_t{handshake_[2]} << 8) | handshake_[3];
      message_size_ = kHandshakeHeaderSize + body;
      // The smallest wire form: the first record header plus the message.
      if (kRecordHeaderSize + *message_size_ > max_size_) return reject(HelloError::too_large);
      handshake_.reserve(*message_size_);
    }
    if (message_size_ && handshake_.size() == *message_size_) {
      auto body = std::span<const std::uint8_t>(handshake_).subspan(kHandshakeHeaderSize);
      if (auto error = parse_client_hello_body(body, info_)) return reject(*error);
      status_ = ParseStatus::done;
      handshake_ = {};
    }
  }
  return status_;
}

std::size_t ClientHelloParser::bytes_needed_hint() const {
  if (status_ != ParseStatus::need_more) return 1;
  // Every missing handshake byte arrives inside some record; add the headers
  // we know must still come.
  const std::size_t message_missing = handshake_target() - handshake_.size();
  std::size_t need = message_missing;
  if (record_remaining_ == 0)
    need += kRecordHeaderSize - header_len_;
  else if (message_missing > record_remaining_)
    need += kRecordHeaderSize;
  return std::max<std::size_t>(need, 1);
}

std::array<std::uint8_t, 7> tls_alert(std::uint8_t description) {
  constexpr std::uint8_t kContentAlert = 21;
  constexpr std::uint8_t kLevelFatal = 2;
  return {kContentAlert, 0x03, 0x03, 0x00, 0x02, kLevelFatal, description};
}

}  // namespace sniproxy::protocol
