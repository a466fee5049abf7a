#include "protocol/quic/initial_frames.hpp"

#include "protocol/byte_reader.hpp"
#include "protocol/quic/varint.hpp"

namespace sniproxy::protocol::quic {
namespace {

enum FrameType : std::uint64_t {
  kPadding = 0x00,
  kPing = 0x01,
  kAck = 0x02,
  kAckEcn = 0x03,
  kCrypto = 0x06,
  kConnectionCloseTransport = 0x1c,
};

// RFC 9000 19.3: largest, delay, range count, first range, then count
// (gap, length) pairs, and three ECN counts for 0x03. Each pair takes at
// least two bytes, so a huge count fails at the payload's end.
bool skip_ack(ByteReader& reader, bool ecn) {
  auto largest = read_varint(reader);
  auto delay = read_varint(reader);
  auto ranges = read_varint(reader);
  auto first_range = read_varint(reader);
  if (!largest || !delay || !ranges || !first_range) return false;
  for (std::uint64_t i = 0; i < *ranges; ++i)
    if (!read_varint(reader) || !read_varint(reader)) return false;
  if (ecn)
    for (int i = 0; i < 3; ++i)
      if (!read_varint(reader)) return false;
  return true;
}

// RFC 9000 19.19: error code, frame type, reason phrase.
bool skip_connection_close(ByteReader& reader) {
  auto code = read_varint(reader);
  auto frame_type = read_varint(reader);
  auto reason_size = read_varint(reader);
  return code && frame_type && reason_size && reader.bytes(*reason_size);
}

}  // namespace

std::optional<QuicHelloError> read_initial_frames(std::span<const std::uint8_t> payload,
                                                  CryptoAssembler& crypto) {
  if (payload.empty()) return QuicHelloError::bad_frame;  // RFC 9000 12.4: at least one frame
  ByteReader reader(payload);
  while (!reader.empty()) {
    auto type = read_varint(reader);
    if (!type) return QuicHelloError::bad_frame;
    switch (*type) {
      case kPadding:
      case kPing:
        break;
      case kAck:
      case kAckEcn:
        if (!skip_ack(reader, *type == kAckEcn)) return QuicHelloError::bad_frame;
        break;
      case kCrypto: {
        auto offset = read_varint(reader);
        auto size = read_varint(reader);
        if (!offset || !size) return QuicHelloError::bad_frame;
        auto data = reader.bytes(*size);
        if (!data || *offset + *size > kMaxVarint) return QuicHelloError::bad_frame;
        if (auto error = crypto.place(*offset, *data)) return error;
        break;
      }
      case kConnectionCloseTransport:
        if (!skip_connection_close(reader)) return QuicHelloError::bad_frame;
        return QuicHelloError::client_closed;
      default:
        return QuicHelloError::bad_frame;
    }
  }
  return std::nullopt;
}

}  // namespace sniproxy::protocol::quic
