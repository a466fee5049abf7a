#pragma once
// Incremental TLS ClientHello parser: feed it the first bytes of a connection
// in whatever pieces they arrive, and it reports the requested server name,
// ALPN and versions once the whole handshake message is in, however it was
// split across TCP segments and TLS records. Pure: no I/O.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parse_status.hpp"

namespace sniproxy::protocol {

enum class HelloError {
  not_tls,           // the first bytes are not a TLS record header
  sslv2,             // an SSLv2-style record header (high bit set)
  not_handshake,     // a TLS record of another content type (alert, application data...)
  not_client_hello,  // a handshake message other than ClientHello
  bad_record,        // a record header that lies (zero length, oversized, wrong type midway)
  bad_handshake,     // ClientHello fields whose lengths do not add up
  bad_extension,     // an extension that overflows, repeats, or whose contents lie
  bad_server_name,   // a server_name extension with bad lengths or an empty name
  too_large,         // the hello would exceed the configured bound
};

// Stable snake_case tokens for metrics and logs ("not_tls", "too_large", ...).
std::string_view to_string(HelloError error);

struct ClientHelloInfo {
  std::optional<std::string> server_name;  // first host_name from SNI as sent; nullopt if none
  std::vector<std::string> alpn;           // protocol names in the client's order
  std::vector<std::uint16_t> versions;     // supported_versions as sent, else {legacy_version}
  std::uint16_t legacy_version = 0;
  bool ech_offered = false;  // encrypted_client_hello (0xfe0d) present
  // quic_transport_parameters (57, RFC 9001 8.2) as sent, unparsed: only
  // QUIC clients send it, and only QUIC code reads it.
  std::optional<std::vector<std::uint8_t>> quic_transport_parameters;
};

class ClientHelloParser {
 public:
  // max_size bounds the whole hello on the wire (all record headers and
  // payloads), in bytes.
  explicit ClientHelloParser(std::size_t max_size);

  // Feed the NEXT bytes of the stream (only bytes not fed before). Returns
  // the status after them. Once done or rejected, further feeds return the
  // same status and read nothing; bytes past the end of the hello are ignored.
  ParseStatus feed(std::span<const std::uint8_t> bytes);

  [[nodiscard]] const ClientHelloInfo& info() const { return info_; }  // valid once done
  [[nodiscard]] HelloError error() const { return error_; }            // valid once rejected
  // While need_more: a lower bound (>= 1) on how many more bytes the hello
  // needs, for SO_RCVLOWAT.
  [[nodiscard]] std::size_t bytes_needed_hint() const;

 private:
  static constexpr std::size_t kRecordHeaderSize = 5;
  static constexpr std::size_t kHandshakeHeaderSize = 4;

  ParseStatus reject(HelloError error);
  // Checks the record header byte just stored; nullopt if it is acceptable.
  [[nodiscard]] std::optional<HelloError> check_header_byte() const;
  // Copies record payload into the handshake buffer; returns bytes consumed.
  std::size_t take_payload(std::span<const std::uint8_t> bytes);
  [[nodiscard]] std::size_t handshake_target() const;

  std::size_t max_size_;
  ParseStatus status_ = ParseStatus::need_more;
  HelloError error_ = HelloError::not_tls;
  ClientHelloInfo info_;

  std::array<std::uint8_t, kRecordHeaderSize> header_{};
  std::size_t header_len_ = 0;
  std::size_t records_seen_ = 0;
  std::size_t record_remaining_ = 0;  // payload bytes still due in the current record
  std::size_t wire_bytes_ = 0;
  std::optional<std::size_t> message_size_;  // handshake header + body, once known
  std::vector<std::uint8_t> handshake_;
};

// A 7-byte fatal TLS alert record, e.g. unrecognized_name (112),
// handshake_failure (40), access_denied (49), internal_error (80).
std::array<std::uint8_t, 7> tls_alert(std::uint8_t description);

}  // namespace sniproxy::protocol
