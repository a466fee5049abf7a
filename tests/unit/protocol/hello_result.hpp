#pragma once
// Runs the ClientHello parser over whole inputs in chosen pieces and captures
// everything it reports, so results of different splits can be compared.
#include <gtest/gtest.h>

#include <cstddef>
#include <ostream>
#include <vector>

#include "hello_bytes.hpp"
#include "protocol/client_hello.hpp"

namespace sniproxy::protocol::test {

inline constexpr std::size_t kDefaultMax = 64 * 1024;

struct HelloResult {
  ParseStatus status = ParseStatus::need_more;
  HelloError error = HelloError::not_tls;  // meaningful when rejected
  ClientHelloInfo info;                    // meaningful when done

  friend bool operator==(const HelloResult& a, const HelloResult& b) {
    if (a.status != b.status) return false;
    if (a.status == ParseStatus::rejected) return a.error == b.error;
    if (a.status == ParseStatus::need_more) return true;
    return a.info.server_name == b.info.server_name && a.info.alpn == b.info.alpn &&
           a.info.versions == b.info.versions && a.info.legacy_version == b.info.legacy_version &&
           a.info.ech_offered == b.info.ech_offered;
  }
  friend std::ostream& operator<<(std::ostream& os, const HelloResult& r) {
    switch (r.status) {
      case ParseStatus::need_more:
        return os << "need_more";
      case ParseStatus::rejected:
        return os << "rejected " << to_string(r.error);
      case ParseStatus::done:
        return os << "done sni=" << r.info.server_name.value_or("<none>")
                  << " alpn=" << r.info.alpn.size() << " versions=" << r.info.versions.size();
    }
    return os;
  }
};

inline HelloResult capture(const ClientHelloParser& parser, ParseStatus status) {
  HelloResult r;
  r.status = status;
  if (status == ParseStatus::rejected) r.error = parser.error();
  if (status == ParseStatus::done) r.info = parser.info();
  return r;
}

// Feeds `bytes` in pieces of at most `chunk` bytes.
inline HelloResult parse_chunked(const Bytes& bytes, std::size_t chunk,
                                 std::size_t max_size = kDefaultMax) {
  ClientHelloParser parser(max_size);
  ParseStatus status = ParseStatus::need_more;
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - pos);
    status = parser.feed(std::span<const std::uint8_t>(bytes.data() + pos, n));
  }
  return capture(parser, status);
}

inline HelloResult parse_whole(const Bytes& bytes, std::size_t max_size = kDefaultMax) {
  return parse_chunked(bytes, bytes.empty() ? 1 : bytes.size(), max_size);
}

// Feeds `bytes` in two parts split at `offset`.
inline HelloResult parse_split(const Bytes& bytes, std::size_t offset,
                               std::size_t max_size = kDefaultMax) {
  ClientHelloParser parser(max_size);
  std::span<const std::uint8_t> all(bytes);
  parser.feed(all.subspan(0, offset));
  return capture(parser, parser.feed(all.subspan(offset)));
}

}  // namespace sniproxy::protocol::test
