#pragma once
// Test helpers that load captured ClientHellos and build or re-frame hellos
// byte by byte, so tests can state exactly which length lies.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sniproxy::protocol::test {

using Bytes = std::vector<std::uint8_t>;

// A file from tests/fixtures/hello/ (aborts the test binary if missing).
Bytes load_fixture(std::string_view name);

Bytes bytes_of(std::string_view text);
// A view of `text` as bytes, for parsers fed straight from a literal.
std::span<const std::uint8_t> as_bytes(std::string_view text);
Bytes concat(std::initializer_list<Bytes> parts);
Bytes u8(std::uint8_t value);
Bytes u16(std::uint16_t value);
Bytes u24(std::uint32_t value);
// A TLS vector: its big-endian length in `width` bytes, then the bytes.
Bytes vec(std::size_t width, const Bytes& body);

// One extension: type, 2-byte length, data.
Bytes extension(std::uint16_t type, const Bytes& data);
Bytes server_name_data(std::string_view host_name);
Bytes alpn_data(std::initializer_list<std::string_view> protocols);
Bytes supported_versions_data(std::initializer_list<std::uint16_t> versions);

// A ClientHello body with fixed legacy fields and the given extensions block
// (the concatenated extensions, its length added here).
Bytes client_hello_body(const Bytes& extensions);
// A handshake message: type, 3-byte length, body.
Bytes handshake(std::uint8_t type, const Bytes& body);
// One TLS record of `content_type` (version 0x0301) around `payload`.
Bytes record(std::uint8_t content_type, const Bytes& payload);
// A whole hello on the wire in one record, from an extensions block.
Bytes wire_hello(const Bytes& extensions);

// The handshake bytes carried by the records of a hello on the wire.
Bytes handshake_message(const Bytes& wire);
// Re-frames a handshake message into handshake records whose payloads have
// the given sizes; the last record takes whatever is left.
Bytes frame_records(const Bytes& message, const std::vector<std::size_t>& sizes);
// Re-frames into records of at most `max_fragment` bytes each.
Bytes frame_evenly(const Bytes& message, std::size_t max_fragment);
// Inserts an extension first in a ClientHello message's extensions block and
// fixes the enclosing lengths (keeps pre_shared_key last, as RFC 8446 wants).
Bytes insert_extension(const Bytes& message, const Bytes& extension_bytes);
// A padding extension (type 21) with `size` zero bytes of data.
Bytes padding_extension(std::size_t size);

}  // namespace sniproxy::protocol::test
