#include "hello_bytes.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace sniproxy::protocol::test {

Bytes load_fixture(std::string_view name) {
  const std::string path = std::string(SNIPROXY_HELLO_FIXTURES) + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "missing fixture %s\n", path.c_str());
    std::abort();
  }
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

Bytes bytes_of(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

Bytes u8(std::uint8_t value) {
  return {value};
}
Bytes u16(std::uint16_t value) {
  return {static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
}
Bytes u24(std::uint32_t value) {
  return {static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 8),
          static_cast<std::uint8_t>(value)};
}

Bytes vec(std::size_t width, const Bytes& body) {
  Bytes out;
  for (std::size_t i = width; i-- > 0;)
    out.push_back(static_cast<std::uint8_t>(body.size() >> (8 * i)));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes extension(std::uint16_t type, const Bytes& data) {
  return concat({u16(type), vec(2, data)});
}

Bytes server_name_data(std::string_view host_name) {
  return vec(2, concat({u8(0), vec(2, bytes_of(host_name))}));
}

Bytes alpn_data(std::initializer_list<std::string_view> protocols) {
  Bytes list;
  for (auto p : protocols) list = concat({list, vec(1, bytes_of(p))});
  return vec(2, list);
}

Bytes supported_versions_data(std::initializer_list<std::uint16_t> versions) {
  Bytes list;
  for (auto v : versions) list = concat({list, u16(v)});
  return vec(1, list);
}

Bytes client_hello_body(const Bytes& extensions) {
  const Bytes random(32, 0xab);
  const Bytes session_id(32, 0xcd);
  const Bytes cipher_suites = concat({u16(0x1301), u16(0x1302), u16(0xc02f)});
  return concat({u16(0x0303), random, vec(1, session_id), vec(2, cipher_suites), vec(1, u8(0)),
                 vec(2, extensions)});
}

Bytes handshake(std::uint8_t type, const Bytes& body) {
  return concat({u8(type), vec(3, body)});
}

Bytes record(std::uint8_t content_type, const Bytes& payload) {
  return concat({u8(content_type), u16(0x0301), vec(2, payload)});
}

Bytes wire_hello(const Bytes& extensions) {
  return record(22, handshake(1, client_hello_body(extensions)));
}

Bytes handshake_message(const Bytes& wire) {
  Bytes out;
  std::size_t pos = 0;
  while (pos + 5 <= wire.size()) {
    const std::size_t length = (std::size_t{wire[pos + 3]} << 8) | wire[pos + 4];
    out.insert(out.end(), wire.begin() + static_cast<std::ptrdiff_t>(pos + 5),
               wire.begin() + static_cast<std::ptrdiff_t>(pos + 5 + length));
    pos += 5 + length;
  }
  return out;
}

Bytes frame_records(const Bytes& message, const std::vector<std::size_t>& sizes) {
  Bytes out;
  std::size_t pos = 0;
  for (std::size_t i = 0; i <= sizes.size() && pos < message.size(); ++i) {
    const std::size_t size = i < sizes.size() ? sizes[i] : message.size() - pos;
    const auto first = message.begin() + static_cast<std::ptrdiff_t>(pos);
    out = concat({out, record(22, Bytes(first, first + static_cast<std::ptrdiff_t>(size)))});
    pos += size;
  }
  return out;
}

Bytes frame_evenly(const Bytes& message, std::size_t max_fragment) {
  std::vector<std::size_t> sizes(message.size() / max_fragment, max_fragment);
  if (!sizes.empty() && message.size() % max_fragment == 0) sizes.pop_back();
  return frame_records(message, sizes);
}

Bytes insert_extension(const Bytes& message, const Bytes& extension_bytes) {
  // handshake header (4), legacy_version (2), random (32), then three vectors.
  std::size_t pos = 4 + 2 + 32;
  pos += 1 + message[pos];
  pos += 2 + ((std::size_t{message[pos]} << 8) | message[pos + 1]);
  pos += 1 + message[pos];
  const std::size_t extensions_length = (std::size_t{message[pos]} << 8) | message[pos + 1];
  Bytes out(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(pos));
  out = concat({out, u16(static_cast<std::uint16_t>(extensions_length + extension_bytes.size())),
                extension_bytes});
  out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(pos + 2), message.end());
  const std::size_t body = out.size() - 4;
  out[1] = static_cast<std::uint8_t>(body >> 16);
  out[2] = static_cast<std::uint8_t>(body >> 8);
  out[3] = static_cast<std::uint8_t>(body);
  return out;
}

Bytes padding_extension(std::size_t size) {
  return extension(21, Bytes(size, 0));
}

}  // namespace sniproxy::protocol::test
