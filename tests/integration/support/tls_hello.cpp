#include "tls_hello.hpp"

#include <algorithm>
#include <stdexcept>

namespace sniproxy::integration {

namespace {

using Bytes = std::vector<std::uint8_t>;

void put8(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
}
void put16(Bytes& b, std::size_t v) {
  put8(b, (v >> 8) & 0xff);
  put8(b, v & 0xff);
}
void put24(Bytes& b, std::size_t v) {
  put8(b, (v >> 16) & 0xff);
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

Bytes server_name_extension(const std::string& name) {
  Bytes list;
  put8(list, 0);  // host_name
  put16(list, name.size());
  list.insert(list.end(), name.begin(), name.end());
  Bytes body;
  put16(body, list.size());
  append(body, list);
  return body;
}

Bytes alpn_extension(const std::vector<std::string>& protocols) {
  Bytes list;
  for (const auto& p : protocols) {
    put8(list, p.size());
    list.insert(list.end(), p.begin(), p.end());
  }
  Bytes body;
  put16(body, list.size());
  append(body, list);
  return body;
}

Bytes u16_list(std::initializer_list<std::uint16_t> values, bool one_byte_length = false) {
  Bytes body;
  if (one_byte_length) {
    put8(body, values.size() * 2);
  } else {
    put16(body, values.size() * 2);
  }
  for (auto v : values) put16(body, v);
  return body;
}

Bytes hello_body(const HelloOptions& o, std::size_t padding) {
  Bytes b;
  put16(b, 0x0303);                                // legacy_version TLS 1.2
  for (int i = 0; i < 32; ++i) put8(b, 0x10 + i);  // random
  put8(b, 32);                                     // legacy_session_id
  for (int i = 0; i < 32; ++i) put8(b, 0xa0 + i);
  Bytes suites = u16_list({0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8});
  append(b, suites);
  put8(b, 1);  // compression methods: null
  put8(b, 0);

  Bytes ext;
  if (o.server_name) extension(ext, 0, server_name_extension(*o.server_name));
  extension(ext, 10, u16_list({0x001d, 0x0017, 0x0018}));  // supported_groups
  extension(ext, 11, Bytes{1, 0});                         // ec_point_formats: uncompressed
  extension(ext, 13, u16_list({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}));
  if (!o.alpn.empty()) extension(ext, 16, alpn_extension(o.alpn));
  extension(ext, 23, Bytes{});  // extended_master_secret
  if (o.tls13) {
    extension(ext, 43, u16_list({0x0304, 0x0303}, true));  // supported_versions
    extension(ext, 45, Bytes{1, 1});                       // psk_key_exchange_modes: psk_dhe_ke
    Bytes share;
    put16(share, 0x001d);  // x25519
    put16(share, 32);
    for (int i = 0; i < 32; ++i) put8(share, 0x40 + i);
    Bytes key_share;
    put16(key_share, share.size());
    append(key_share, share);
    extension(ext, 51, key_share);
  }
  // encrypted_client_hello (0xfe0d): an opaque stand-in, the proxy only notes it.
  if (o.ech) extension(ext, 0xfe0d, Bytes(64, 0x42));
  if (padding > 0) extension(ext, 21, Bytes(padding - 4, 0));  // 4 = the extension header
  put16(b, ext.size());
  append(b, ext);
  return b;
}

}  // namespace

std::vector<std::uint8_t> build_client_hello(const HelloOptions& o) {
  Bytes body = hello_body(o, 0);
  if (o.pad_handshake_to > body.size() + 4) {
    // +4 handshake header; the padding extension needs at least its own 4 bytes.
    std::size_t want = o.pad_handshake_to - 4 - body.size();
    body = hello_body(o, std::max<std::size_t>(want, 4));
  }
  Bytes handshake;
  put8(handshake, 1);  // client_hello
  put24(handshake, body.size());
  append(handshake, body);

  const std::size_t per_record = o.max_record_payload == 0 ? 16384 : o.max_record_payload;
  if (per_record > 16384) throw std::invalid_argument("TLS records carry at most 16384 bytes");
  Bytes out;
  for (std::size_t off = 0; off < handshake.size(); off += per_record) {
    const std::size_t n = std::min(per_record, handshake.size() - off);
    put8(out, 0x16);     // handshake
    put16(out, 0x0301);  // record version as clients send it
    put16(out, n);
    out.insert(out.end(), handshake.begin() + static_cast<long>(off),
               handshake.begin() + static_cast<long>(off + n));
  }
  return out;
}

}  // namespace sniproxy::integration
