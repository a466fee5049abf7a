#pragma once
// A minimal TLS 1.3-style ClientHello record, for the active tls_hello
// health check: enough that a real TLS server answers with a ServerHello or
// an alert. Pure: the caller brings the random bytes.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sniproxy::protocol {

struct ClientHelloSpec {
  std::string_view server_name;               // SNI host_name; no SNI extension when empty
  std::array<std::uint8_t, 32> random{};      // ClientHello.random
  std::array<std::uint8_t, 32> x25519_key{};  // key_share: any 32 bytes will do
};

// One TLS record (content type 22) holding the whole ClientHello: TLS 1.3
// and 1.2 AEAD suites, supported_versions, supported_groups,
// signature_algorithms, a key_share for x25519, and SNI.
std::vector<std::uint8_t> client_hello_record(const ClientHelloSpec& spec);

}  // namespace sniproxy::protocol
