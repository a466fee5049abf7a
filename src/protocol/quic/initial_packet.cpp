#include "protocol/quic/initial_packet.hpp"

#include <algorithm>

#include "protocol/byte_reader.hpp"
#include "protocol/quic/long_header.hpp"
#include "protocol/quic/packet_protection.hpp"
#include "protocol/quic/varint.hpp"

namespace sniproxy::protocol::quic {
namespace {

constexpr std::uint8_t kLongReservedBits = 0x0c;  // zero once unprotected (RFC 9000 17.2)
constexpr std::uint8_t kLongProtectedBits = 0x0f;
constexpr std::size_t kMaxPacketNumberSize = 4;

struct OpenedPacket {
  std::vector<std::uint8_t> payload;
  std::optional<QuicHelloError> error;
};

OpenedPacket fail(QuicHelloError error) {
  return {.payload = {}, .error = error};
}

// One Initial whose packet number starts at `pn_offset` and which ends
// where `packet` ends.
OpenedPacket open_initial(std::span<const std::uint8_t> packet, std::size_t pn_offset,
                          InitialFlow& flow) {
  // The sample starts 4 bytes after the packet number's start, whatever its
  // length (RFC 9001 5.4.2); a packet too short for it cannot be opened.
  if (packet.size() < pn_offset + kMaxPacketNumberSize + kSampleSize)
    return fail(QuicHelloError::bad_header);
  const auto sample = packet.subspan(pn_offset + kMaxPacketNumberSize).first<kSampleSize>();
  const auto mask = header_protection_mask(flow.keys.hp, sample);
  if (!mask) return fail(QuicHelloError::internal);

  std::vector<std::uint8_t> header(
      packet.begin(),
      packet.begin() + static_cast<std::ptrdiff_t>(pn_offset + kMaxPacketNumberSize));
  header[0] ^= (*mask)[0] & kLongProtectedBits;
  const std::size_t pn_size = (header[0] & 0x03) + 1;
  std::uint64_t truncated = 0;
  for (std::size_t i = 0; i < pn_size; ++i) {
    header[pn_offset + i] ^= (*mask)[1 + i];
    truncated = (truncated << 8) | header[pn_offset + i];
  }
  header.resize(pn_offset + pn_size);
  const std::uint64_t number = decode_packet_number(flow.largest_packet_number, truncated,
                                                    static_cast<unsigned>(8 * pn_size));

  // RFC 9001 5.3: the nonce is the IV XORed with the packet number,
  // right-aligned; the unprotected header is the associated data.
  std::array<std::uint8_t, 12> nonce = flow.keys.iv;
  for (std::size_t i = 0; i < 8; ++i)
    nonce[nonce.size() - 1 - i] ^= static_cast<std::uint8_t>(number >> (8 * i));
  OpenedPacket opened;
  if (!aes_128_gcm_open(flow.keys.key, nonce, header, packet.subspan(pn_offset + pn_size),
                        opened.payload))
    return fail(QuicHelloError::bad_tag);
  // Checked only now: before the tag, these bits are not known to be the client's.
  if ((header[0] & kLongReservedBits) != 0) return fail(QuicHelloError::bad_header);
  flow.largest_packet_number = std::max(flow.largest_packet_number.value_or(0), number);
  return opened;
}

}  // namespace

std::uint64_t decode_packet_number(std::optional<std::uint64_t> largest, std::uint64_t truncated,
                                   unsigned bits) {
  const std::uint64_t expected = largest ? *largest + 1 : 0;
  const std::uint64_t window = std::uint64_t{1} << bits;
  const std::uint64_t half = window / 2;
  const std::uint64_t candidate = (expected & ~(window - 1)) | truncated;
  if (candidate + half <= expected && candidate < (std::uint64_t{1} << 62) - window)
    return candidate + window;
  if (candidate > expected + half && candidate >= window) return candidate - window;
  return candidate;
}

OpenedDatagram open_client_initials(std::span<const std::uint8_t> datagram, InitialFlow& flow) {
  OpenedDatagram result;
  std::size_t pos = 0;
  while (pos < datagram.size()) {
    const auto rest = datagram.subspan(pos);
    if ((rest[0] & kLongHeaderBit) == 0)
      break;  // a 1-RTT packet or zero padding: nothing more for us
    const auto ids = read_long_header_ids(rest);
    if (!ids || ids->dcid.size() > kMaxConnectionIdSize ||
        ids->scid.size() > kMaxConnectionIdSize) {
      result.stopped = QuicHelloError::bad_header;
      break;
    }
    if (ids->version != flow.version->number ||
        !std::equal(ids->dcid.begin(), ids->dcid.end(), flow.dcid.begin(), flow.dcid.end())) {
      result.stopped = QuicHelloError::other_connection;
      break;
    }
    const LongPacketType type = flow.version->packet_type(ids->first_byte);
    if (type == LongPacketType::retry) {  // a server's packet, and one without a Length
      result.stopped = QuicHelloError::not_initial;
      break;
    }
    ByteReader reader(rest.subspan(ids->size));
    if (type == LongPacketType::initial) {
      auto token_size = read_varint(reader);
      if (!token_size || !reader.bytes(*token_size)) {
        result.stopped = QuicHelloError::bad_header;
        break;
      }
    }
    auto length = read_varint(reader);
    if (!length || *length > reader.remaining()) {
      result.stopped = QuicHelloError::bad_header;
      break;
    }
    const std::size_t pn_offset = rest.size() - reader.remaining();
    const auto packet = rest.first(pn_offset + *length);
    pos += packet.size();
    if (type != LongPacketType::initial) continue;  // 0-RTT or Handshake: not ours to read
    auto opened = open_initial(packet, pn_offset, flow);
    if (opened.error) {
      result.stopped = opened.error;
      break;
    }
    result.payloads.push_back(std::move(opened.payload));
  }
  return result;
}

}  // namespace sniproxy::protocol::quic
