#include "protocol/client_hello_writer.hpp"

#include <cstddef>
#include <initializer_list>
#include <utility>

namespace sniproxy::protocol {
namespace {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u16s(std::initializer_list<std::uint16_t> vs) {
    for (const auto v : vs) u16(v);
  }
  void bytes(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }
  void text(std::string_view s) {
    for (const char c : s) u8(static_cast<std::uint8_t>(c));
  }
  // Reserves a length field of `width` bytes (1..3) and returns its offset;
  // close() fills it with the bytes written after it.
  std::size_t open(int width) {
    const std::size_t at = out_.size();
    out_.insert(out_.end(), static_cast<std::size_t>(width), 0);
    widths_.push_back(width);
    return at;
  }
  void close(std::size_t at) {
    const int width = widths_.back();
    widths_.pop_back();
    std::size_t len = out_.size() - at - static_cast<std::size_t>(width);
    for (int i = width - 1; i >= 0; --i, len >>= 8)
      out_[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(len);
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
  std::vector<int> widths_;
};

void extension(Writer& w, std::uint16_t type, auto&& body) {
  w.u16(type);
  const auto len = w.open(2);
  body();
  w.close(len);
}

}  // namespace

std::vector<std::uint8_t> client_hello_record(const ClientHelloSpec& spec) {
  Writer w;
  w.u8(22);       // handshake
  w.u16(0x0301);  // record version, as clients send for compatibility
  const auto record = w.open(2);
  w.u8(1);  // client_hello
  const auto message = w.open(3);
  w.u16(0x0303);  // legacy_version TLS 1.2
  w.bytes(spec.random.data(), spec.random.size());
  w.u8(0);  // empty legacy_session_id
  const auto suites = w.open(2);
  // TLS 1.3 AES-128-GCM, AES-256-GCM, ChaCha20; TLS 1.2 ECDHE-ECDSA/RSA AES-128-GCM.
  w.u16s({0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f});
  w.close(suites);
  w.u8(1);  // compression methods: null only
  w.u8(0);
  const auto extensions = w.open(2);
  if (!spec.server_name.empty()) {
    extension(w, 0x0000, [&] {
      const auto list = w.open(2);
      w.u8(0);  // host_name
      const auto name = w.open(2);
      w.text(spec.server_name);
      w.close(name);
      w.close(list);
    });
  }
  extension(w, 0x000a, [&] {  // supported_groups: x25519, secp256r1
    const auto list = w.open(2);
    w.u16s({0x001d, 0x0017});
    w.close(list);
  });
  extension(w, 0x000b, [&] {  // ec_point_formats: uncompressed (TLS 1.2 servers)
    w.u8(1);
    w.u8(0);
  });
  extension(w, 0x000d, [&] {  // signature_algorithms
    const auto list = w.open(2);
    w.u16s({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807});
    w.close(list);
  });
  extension(w, 0x002b, [&] {  // supported_versions: TLS 1.3, TLS 1.2
    const auto list = w.open(1);
    w.u16s({0x0304, 0x0303});
    w.close(list);
  });
  extension(w, 0x002d, [&] {  // psk_key_exchange_modes: psk_dhe_ke
    w.u8(1);
    w.u8(1);
  });
  extension(w, 0x0033, [&] {  // key_share: one x25519 share
    const auto list = w.open(2);
    w.u16(0x001d);
    const auto key = w.open(2);
    w.bytes(spec.x25519_key.data(), spec.x25519_key.size());
    w.close(key);
    w.close(list);
  });
  w.close(extensions);
  w.close(message);
  w.close(record);
  return w.take();
}

}  // namespace sniproxy::protocol
