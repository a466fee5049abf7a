#include "client_hello.hpp"

#include <algorithm>

#include "fail.hpp"

namespace proxy_load {

namespace {

using Bytes = std::vector<std::uint8_t>;

void put8(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
}
void put16(Bytes& b, std::size_t v) {
  put8(b, v >> 8);
  put8(b, v);
}
void put24(Bytes& b, std::size_t v) {
  put8(b, v >> 16);
  put16(b, v & 0xffff);
}
void append(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
}

void extension(Bytes& out, std::uint16_t type, const Bytes& body) {
  put16(out, type);
  put16(out, body.size());
  append(out, body);
}

// OpenSSL 3.0's default cipher list, TLS 1.3 suites first, ending with the
// renegotiation SCSV (0x00ff), as captured in any_version_sni.bin.
const Bytes kCipherSuites = {
    0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8,
    0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23,
    0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33,
    0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff};
// ec_point_formats: uncompressed, ansiX962_compressed_prime, _char2.
const Bytes kPointFormats = {0x03, 0x00, 0x01, 0x02};
// supported_groups: x25519, P-256, x448, P-521, P-384, ffdhe2048..8192.
const Bytes kGroups = {0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00,
                       0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04};
// signature_algorithms when TLS 1.2 is still offered (20 schemes).
const Bytes kSignatureAlgorithms = {
    0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
    0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
    0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02};
// supported_versions: TLS 1.3, 1.2, 1.1, 1.0.
const Bytes kSupportedVersions = {0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01};
// psk_key_exchange_modes: psk_dhe_ke.
const Bytes kPskModes = {0x01, 0x01};

constexpr std::size_t kRandomSize = 32;
constexpr std::size_t kSessionIdSize = 32;
constexpr std::size_t kKeyShareSize = 32;  // one x25519 public key

Bytes server_name_extension(const std::string& name) {
  Bytes b;
  put16(b, name.size() + 3);
  put8(b, 0);  // host_name
  put16(b, name.size());
  b.insert(b.end(), name.begin(), name.end());
  return b;
}

Bytes alpn_extension(const std::string& list) {
  Bytes protocols;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string one = list.substr(start, comma - start);
    if (one.empty() || one.size() > 255) die("bad --alpn list '" + list + "'");
    put8(protocols, one.size());
    protocols.insert(protocols.end(), one.begin(), one.end());
    start = comma + 1;
  }
  Bytes b;
  put16(b, protocols.size());
  append(b, protocols);
  return b;
}

}  // namespace

ClientHelloMaker::ClientHelloMaker(const std::string& server_name, const std::string& alpn)
    : rng_(std::random_device{}()) {
  if (server_name.empty() || server_name.size() > 255) die("bad --sni '" + server_name + "'");
  Bytes extensions;
  extension(extensions, 0, server_name_extension(server_name));
  extension(extensions, 11, kPointFormats);
  extension(extensions, 10, kGroups);
  extension(extensions, 35, {});  // session_ticket, empty: no ticket yet
  if (!alpn.empty()) extension(extensions, 16, alpn_extension(alpn));
  extension(extensions, 22, {});  // encrypt_then_mac
  extension(extensions, 23, {});  // extended_master_secret
  extension(extensions, 13, kSignatureAlgorithms);
  extension(extensions, 43, kSupportedVersions);
  extension(extensions, 45, kPskModes);
  Bytes key_share;
  put16(key_share, 4 + kKeyShareSize);
  put16(key_share, 0x001d);  // x25519
  put16(key_share, kKeyShareSize);
  key_share.resize(key_share.size() + kKeyShareSize);
  extension(extensions, 51, key_share);

  Bytes body;
  put16(body, 0x0303);  // legacy_version
  random_at_ = body.size();
  body.resize(body.size() + kRandomSize);
  put8(body, kSessionIdSize);  // a TLS 1.3 client sends a fake one (middlebox compatibility)
  session_id_at_ = body.size();
  body.resize(body.size() + kSessionIdSize);
  put16(body, kCipherSuites.size());
  append(body, kCipherSuites);
  put8(body, 1);  // compression methods: null only
  put8(body, 0);
  put16(body, extensions.size());
  append(body, extensions);

  // Record header (legacy version 0x0301, as openssl writes for the first
  // flight) and handshake header.
  put8(bytes_, 0x16);
  put16(bytes_, 0x0301);
  put16(bytes_, body.size() + 4);
  put8(bytes_, 1);  // client_hello
  put24(bytes_, body.size());
  const std::size_t body_at = bytes_.size();
  append(bytes_, body);
  random_at_ += body_at;
  session_id_at_ += body_at;
  key_share_at_ = bytes_.size() - kKeyShareSize;  // key_share is the last extension
}

const std::vector<std::uint8_t>& ClientHelloMaker::next() {
  auto fill = [this](std::size_t at, std::size_t size) {
    for (std::size_t i = 0; i < size; i += 8) {
      const std::uint64_t r = rng_();
      for (std::size_t j = 0; j < 8 && i + j < size; ++j)
        bytes_[at + i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
  };
  fill(random_at_, kRandomSize);
  fill(session_id_at_, kSessionIdSize);
  fill(key_share_at_, kKeyShareSize);
  return bytes_;
}

const std::vector<std::uint8_t>& ClientHelloMaker::with_secrets_of(
    const std::vector<std::uint8_t>& captured) {
  if (captured.size() != bytes_.size())
    die("captured hello has " + std::to_string(captured.size()) + " bytes, ours " +
        std::to_string(bytes_.size()));
  for (const auto& [at, size] :
       {std::pair{random_at_, kRandomSize}, std::pair{session_id_at_, kSessionIdSize},
        std::pair{key_share_at_, kKeyShareSize}})
    std::copy_n(captured.begin() + static_cast<std::ptrdiff_t>(at), size,
                bytes_.begin() + static_cast<std::ptrdiff_t>(at));
  return bytes_;
}

std::size_t HelloFramer::feed(const std::uint8_t* data, std::size_t size) {
  std::size_t used = 0;
  while (used < size && !complete_) {
    if (record_left_ == 0) {
      record_header_[header_have_++] = data[used++];
      if (header_have_ == sizeof record_header_) {
        record_left_ = (std::size_t{record_header_[3]} << 8) | record_header_[4];
        header_have_ = 0;
      }
      continue;
    }
    // Inside a record: the first four payload bytes give the handshake length.
    std::size_t take = std::min(size - used, record_left_);
    if (handshake_header_have_ < sizeof handshake_header_) {
      take = 1;
      handshake_header_[handshake_header_have_++] = data[used];
      if (handshake_header_have_ == sizeof handshake_header_) {
        handshake_left_ = (std::uint64_t{handshake_header_[1]} << 16) |
                          (std::uint64_t{handshake_header_[2]} << 8) | handshake_header_[3];
        complete_ = handshake_left_ == 0;
      }
    } else {
      take = static_cast<std::size_t>(std::min<std::uint64_t>(take, handshake_left_));
      handshake_left_ -= take;
      complete_ = handshake_left_ == 0;
    }
    used += take;
    record_left_ -= take;
  }
  return used;
}

}  // namespace proxy_load
