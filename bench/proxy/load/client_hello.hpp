#pragma once
// A TLS ClientHello byte for byte like the one `openssl s_client -servername
// NAME [-alpn LIST]` sends (OpenSSL 3.0, Debian 12, no other options): the
// same cipher list, extensions, order and sizes. Only the per-connection
// secrets differ -- the random, the session id and the x25519 key share --
// and next() draws fresh ones for every connection, as a real client would.
// A proxy therefore sees exactly what it would see from openssl (see
// tests/fixtures/hello/ for captured originals; `proxy_load hello` checks
// against them).
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace proxy_load {

class ClientHelloMaker {
 public:
  // `alpn` is a comma-separated protocol list, empty for none.
  ClientHelloMaker(const std::string& server_name, const std::string& alpn);

  // The hello with new random, session id and key share.
  const std::vector<std::uint8_t>& next();
  // The hello with the random, session id and key share copied from
  // `captured` (another hello of the same layout), to compare byte for byte.
  const std::vector<std::uint8_t>& with_secrets_of(const std::vector<std::uint8_t>& captured);

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t random_at_ = 0;
  std::size_t session_id_at_ = 0;
  std::size_t key_share_at_ = 0;
  std::mt19937_64 rng_;
};

// The length of the complete handshake message at the start of a TLS stream,
// records included, once enough bytes have been seen; tracks records so a
// hello split over several records is measured correctly.
class HelloFramer {
 public:
  // Feeds the next bytes of the stream; returns how many of them still
  // belong to the hello (all of `size` while it is incomplete).
  std::size_t feed(const std::uint8_t* data, std::size_t size);
  bool complete() const { return complete_; }

 private:
  std::uint8_t record_header_[5] = {};
  std::size_t header_have_ = 0;
  std::size_t record_left_ = 0;
  std::uint8_t handshake_header_[4] = {};
  std::size_t handshake_header_have_ = 0;
  std::uint64_t handshake_left_ = 0;
  bool complete_ = false;
};

}  // namespace proxy_load
