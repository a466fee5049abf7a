#include "quic_initial_builder.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "hello_bytes.hpp"
#include "protocol/client_hello_writer.hpp"
#include "protocol/quic/evp_handles.hpp"
#include "protocol/quic/initial_keys.hpp"
#include "protocol/quic/packet_protection.hpp"
#include "protocol/quic/varint.hpp"

namespace sniproxy::protocol::test {
namespace {

using quic::append_varint;

// The test cannot go on without its fixtures: abort like load_fixture does.
void require(bool holds) {
  if (!holds) std::abort();
}

void append_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

Bytes gcm_seal(const quic::InitialKeys& keys, std::uint64_t number, const Bytes& aad,
               const Bytes& plain) {
  auto nonce = keys.iv;
  for (std::size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<std::uint8_t>(number >> (8 * i));
  quic::EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  require(ctx && EVP_EncryptInit_ex2(ctx.get(), quic::aes_128_gcm(), keys.key.data(), nonce.data(),
                                     nullptr) == 1);
  int written = 0;
  require(EVP_EncryptUpdate(ctx.get(), nullptr, &written, aad.data(),
                            static_cast<int>(aad.size())) == 1);
  Bytes sealed(plain.size() + quic::kTagSize);
  require(EVP_EncryptUpdate(ctx.get(), sealed.data(), &written, plain.data(),
                            static_cast<int>(plain.size())) == 1);
  int final_written = 0;
  require(EVP_EncryptFinal_ex(ctx.get(), sealed.data() + written, &final_written) == 1);
  require(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(quic::kTagSize),
                              sealed.data() + plain.size()) == 1);
  return sealed;
}

// A long header up to and including Length (of `rest` bytes to follow).
Bytes long_header(const InitialSpec& spec, quic::LongPacketType type, std::uint8_t low_bits,
                  std::size_t rest) {
  const auto* version = quic::find_version(spec.version);
  const std::uint8_t type_bits = version ? version->type_bits[static_cast<int>(type)] : 0;
  Bytes out{static_cast<std::uint8_t>(0xc0 | (type_bits << 4) | low_bits)};
  append_u32(out, spec.version);
  out.push_back(static_cast<std::uint8_t>(spec.dcid.size()));
  out.insert(out.end(), spec.dcid.begin(), spec.dcid.end());
  out.push_back(static_cast<std::uint8_t>(spec.scid.size()));
  out.insert(out.end(), spec.scid.begin(), spec.scid.end());
  if (type == quic::LongPacketType::initial) {
    append_varint(out, spec.token.size());
    out.insert(out.end(), spec.token.begin(), spec.token.end());
  }
  append_varint(out, rest);
  return out;
}

}  // namespace

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

Bytes crypto_frame(std::uint64_t offset, std::span<const std::uint8_t> data) {
  Bytes out{0x06};
  append_varint(out, offset);
  append_varint(out, data.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes ping_frame() {
  return {0x01};
}

Bytes ack_frame(std::uint64_t largest) {
  Bytes out{0x02};
  append_varint(out, largest);
  append_varint(out, 0);  // delay
  append_varint(out, 1);  // one more range after the first
  append_varint(out, 0);  // first range
  append_varint(out, 0);  // gap
  append_varint(out, 0);  // range length
  return out;
}

Bytes crypto_pieces(const Bytes& message, const std::vector<std::size_t>& cuts,
                    const std::vector<std::size_t>& order) {
  std::vector<std::size_t> bounds{0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(message.size());
  require(std::is_sorted(bounds.begin(), bounds.end()));
  Bytes out;
  for (std::size_t piece : order) {
    const auto begin = bounds[piece];
    const auto end = bounds[piece + 1];
    const auto frame =
        crypto_frame(begin, std::span<const std::uint8_t>(message).subspan(begin, end - begin));
    out.insert(out.end(), frame.begin(), frame.end());
  }
  return out;
}

Bytes seal_initial(const InitialSpec& spec) {
  const auto* version = quic::find_version(spec.version);
  require(version != nullptr && spec.packet_number_size >= 1 && spec.packet_number_size <= 4);
  const auto keys = quic::client_initial_keys(*version, spec.dcid);
  require(keys.has_value());
  // A payload must leave 4 bytes after the packet number's start for the
  // sample (RFC 9001 5.4.2): short payloads get PADDING.
  Bytes frames = spec.frames;
  if (frames.size() + spec.packet_number_size < 4) frames.resize(4 - spec.packet_number_size);
  const std::size_t pn_size = spec.packet_number_size;
  Bytes header =
      long_header(spec, quic::LongPacketType::initial, static_cast<std::uint8_t>(pn_size - 1),
                  pn_size + frames.size() + quic::kTagSize);
  const std::size_t pn_offset = header.size();
  for (std::size_t i = pn_size; i-- > 0;)
    header.push_back(static_cast<std::uint8_t>(spec.packet_number >> (8 * i)));
  const Bytes sealed = gcm_seal(*keys, spec.packet_number, header, frames);
  Bytes packet = header;
  packet.insert(packet.end(), sealed.begin(), sealed.end());

  const auto sample =
      std::span<const std::uint8_t>(packet).subspan(pn_offset + 4).first<quic::kSampleSize>();
  const auto mask = quic::header_protection_mask(keys->hp, sample);
  require(mask.has_value());
  packet[0] ^= (*mask)[0] & 0x0f;
  for (std::size_t i = 0; i < pn_size; ++i) packet[pn_offset + i] ^= (*mask)[1 + i];
  return packet;
}

Bytes padded_initial(InitialSpec spec, std::size_t size) {
  // Grows until it fits: seal_initial may pad a tiny payload itself, and
  // Length's varint may grow with the padding.
  Bytes packet = seal_initial(spec);
  while (packet.size() < size) {
    spec.frames.resize(spec.frames.size() + (size - packet.size()));
    packet = seal_initial(spec);
  }
  return packet;
}

Bytes zero_rtt_packet(const InitialSpec& spec, std::size_t payload_size) {
  Bytes packet = long_header(spec, quic::LongPacketType::zero_rtt, 0x01, payload_size);
  packet.resize(packet.size() + payload_size, 0x5a);
  return packet;
}

Bytes quic_client_hello(std::string_view server_name, std::uint64_t idle_ms, std::size_t extra,
                        std::initializer_list<std::string_view> alpn) {
  ClientHelloSpec spec{.server_name = server_name};
  spec.random.fill(0x11);
  spec.x25519_key.fill(0x22);
  Bytes message = handshake_message(client_hello_record(spec));
  Bytes idle;
  append_varint(idle, idle_ms);
  Bytes parameters;
  append_varint(parameters, 0x01);  // max_idle_timeout
  append_varint(parameters, idle.size());
  parameters.insert(parameters.end(), idle.begin(), idle.end());
  message = insert_extension(message, extension(57, parameters));
  if (extra > 0) message = insert_extension(message, padding_extension(extra));
  if (alpn.size() > 0) message = insert_extension(message, extension(16, alpn_data(alpn)));
  return message;
}

}  // namespace sniproxy::protocol::test
