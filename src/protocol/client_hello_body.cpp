#include "protocol/client_hello_body.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "protocol/byte_reader.hpp"

namespace sniproxy::protocol {
namespace {

constexpr std::uint16_t kServerName = 0;
constexpr std::uint16_t kAlpn = 16;
constexpr std::uint16_t kSupportedVersions = 43;
constexpr std::uint16_t kQuicTransportParameters = 57;
constexpr std::uint16_t kEncryptedClientHello = 0xfe0d;
constexpr std::uint8_t kHostName = 0;
constexpr std::size_t kRandomSize = 32;
constexpr std::size_t kMaxSessionIdSize = 32;

std::string to_text(std::span<const std::uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// RFC 6066 3: a non-empty list of (type, name); one entry per type.
std::optional<HelloError> parse_server_name(ByteReader data, ClientHelloInfo& info) {
  auto list = data.vector(2);
  if (!list || !data.empty() || list->empty()) return HelloError::bad_server_name;
  bool seen_host_name = false;
  while (!list->empty()) {
    auto type = list->u8();
    auto name = list->vector(2);
    if (!type || !name) return HelloError::bad_server_name;
    if (*type != kHostName) continue;  // other name types are skipped, as RFC 6066 allows
    if (seen_host_name || name->empty()) return HelloError::bad_server_name;
    seen_host_name = true;
    info.server_name = to_text(*name->bytes(name->remaining()));
  }
  return std::nullopt;
}

// RFC 7301 3.1: a non-empty list of non-empty names.
std::optional<HelloError> parse_alpn(ByteReader data, ClientHelloInfo& info) {
  auto list = data.vector(2);
  if (!list || !data.empty() || list->empty()) return HelloError::bad_extension;
  while (!list->empty()) {
    auto name = list->vector(1);
    if (!name || name->empty()) return HelloError::bad_extension;
    info.alpn.push_back(to_text(*name->bytes(name->remaining())));
  }
  return std::nullopt;
}

// RFC 8446 4.2.1: in a ClientHello, a 1-byte length and 1..127 versions.
std::optional<HelloError> parse_supported_versions(ByteReader data, ClientHelloInfo& info) {
  auto list = data.vector(1);
  if (!list || !data.empty() || list->empty() || list->remaining() % 2 != 0)
    return HelloError::bad_extension;
  while (!list->empty()) info.versions.push_back(*list->u16());
  return std::nullopt;
}

std::optional<HelloError> parse_extensions(ByteReader extensions, ClientHelloInfo& info) {
  std::vector<std::uint16_t> seen;
  bool has_supported_versions = false;
  while (!extensions.empty()) {
    auto type = extensions.u16();
    auto data = extensions.vector(2);
    if (!type || !data) return HelloError::bad_extension;
    // RFC 8446 4.2: no two extensions of the same type.
    if (std::find(seen.begin(), seen.end(), *type) != seen.end()) return HelloError::bad_extension;
    seen.push_back(*type);
    std::optional<HelloError> error;
    switch (*type) {
      case kServerName:
        error = parse_server_name(*data, info);
        break;
      case kAlpn:
        error = parse_alpn(*data, info);
        break;
      case kSupportedVersions:
        has_supported_versions = true;
        error = parse_supported_versions(*data, info);
        break;
      case kEncryptedClientHello:
        info.ech_offered = true;
        break;
      case kQuicTransportParameters: {
        auto bytes = *data->bytes(data->remaining());
        info.quic_transport_parameters.emplace(bytes.begin(), bytes.end());
        break;
      }
      default:
        break;
    }
    if (error) return error;
  }
  if (!has_supported_versions) info.versions = {info.legacy_version};
  return std::nullopt;
}

}  // namespace

std::optional<HelloError> parse_client_hello_body(std::span<const std::uint8_t> body,
                                                  ClientHelloInfo& info) {
  info = ClientHelloInfo{};
  ByteReader reader(body);
  auto legacy_version = reader.u16();
  auto random = reader.bytes(kRandomSize);
  auto session_id = reader.vector(1);
  auto cipher_suites = reader.vector(2);
  auto compression_methods = reader.vector(1);
  if (!legacy_version || !random || !session_id || !cipher_suites || !compression_methods)
    return HelloError::bad_handshake;
  if (session_id->remaining() > kMaxSessionIdSize || cipher_suites->empty() ||
      cipher_suites->remaining() % 2 != 0 || compression_methods->empty())
    return HelloError::bad_handshake;
  info.legacy_version = *legacy_version;
  // Extensions are optional before TLS 1.2; when present they must fill the
  // rest of the message exactly.
  if (reader.empty()) {
    info.versions = {info.legacy_version};
    return std::nullopt;
  }
  auto extensions = reader.vector(2);
  if (!extensions || !reader.empty()) return HelloError::bad_handshake;
  return parse_extensions(*extensions, info);
}

}  // namespace sniproxy::protocol
