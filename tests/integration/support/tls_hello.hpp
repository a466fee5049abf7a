#pragma once
// Builds syntactically valid TLS ClientHello records (what a browser sends
// first), with the knobs the routing tests need.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sniproxy::integration {

struct HelloOptions {
  std::optional<std::string> server_name{};  // no SNI extension when empty
  std::vector<std::string> alpn{};           // e.g. {"h2", "http/1.1"}
  bool tls13 = true;  // supported_versions + key_share, as TLS 1.3 clients send
  bool ech = false;   // an encrypted_client_hello extension (its contents are filler)
  // Grow the handshake message to at least this many bytes with the padding
  // extension (RFC 7685); 0 = no padding.
  std::size_t pad_handshake_to = 0;
  // Split the handshake message across TLS records carrying at most this
  // many bytes each; 0 = one record.
  std::size_t max_record_payload = 0;
};

std::vector<std::uint8_t> build_client_hello(const HelloOptions& options);
inline std::vector<std::uint8_t> hello_for(const std::string& server_name) {
  return build_client_hello(HelloOptions{.server_name = server_name});
}

// The fatal alert records the proxy answers with.
inline const std::vector<std::uint8_t> kAlertUnrecognizedName{0x15, 0x03, 0x03, 0x00,
                                                              0x02, 0x02, 0x70};
inline const std::vector<std::uint8_t> kAlertAccessDenied{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31};

}  // namespace sniproxy::integration
