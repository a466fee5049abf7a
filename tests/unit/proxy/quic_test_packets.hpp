#pragma once
// Client datagrams as far as connection IDs go, for the session table and
// directory tests: a long header (Handshake type, v1) and a short header.
#include <cstdint>
#include <vector>

namespace sniproxy::proxy::quic::test_packets {

using Bytes = std::vector<std::uint8_t>;

// A long header with these IDs and some payload.
inline Bytes long_header(const Bytes& dcid, const Bytes& scid) {
  Bytes p = {0xe0, 0x00, 0x00, 0x00, 0x01};
  p.push_back(static_cast<std::uint8_t>(dcid.size()));
  p.insert(p.end(), dcid.begin(), dcid.end());
  p.push_back(static_cast<std::uint8_t>(scid.size()));
  p.insert(p.end(), scid.begin(), scid.end());
  p.resize(p.size() + 40, 0x55);
  return p;
}

// A short header (1-RTT) whose DCID is `dcid`, then protected bytes.
inline Bytes short_header(const Bytes& dcid) {
  Bytes p = {0x41};
  p.insert(p.end(), dcid.begin(), dcid.end());
  p.resize(p.size() + 30, 0xaa);
  return p;
}

}  // namespace sniproxy::proxy::quic::test_packets
