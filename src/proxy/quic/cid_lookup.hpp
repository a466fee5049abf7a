#pragma once
// Which connection ID a client datagram names, for tables keyed by
// (listener, ID bytes): a long header's DCID has its length on the wire; a
// short header's does not (RFC 9000 17.3), so it is tried at each length
// learnt on that listener, shortest first. Its fixed bit is not checked:
// peers that allow it grease it (RFC 9287).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "protocol/quic/long_header.hpp"

namespace sniproxy::proxy::quic {

// (listener, ID bytes) as one map key.
inline std::string cid_key(std::size_t listener, std::span<const std::uint8_t> cid) {
  std::string key(sizeof listener, '\0');
  std::memcpy(key.data(), &listener, sizeof listener);
  key.append(reinterpret_cast<const char*>(cid.data()), cid.size());
  return key;
}

// Per (listener, length): how many learnt IDs have it.
using CidLengths = std::map<std::pair<std::size_t, std::size_t>, std::size_t>;

// The first `find(key)` that answers, over the IDs `datagram` may carry.
template <typename Find>
auto match_datagram_cid(std::size_t listener, std::span<const std::uint8_t> datagram,
                        const CidLengths& lengths, Find find) -> decltype(find(std::string{})) {
  if (datagram.empty()) return std::nullopt;
  if ((datagram[0] & protocol::quic::kLongHeaderBit) != 0) {
    auto header = protocol::quic::read_long_header_ids(datagram);
    if (!header) return std::nullopt;
    return find(cid_key(listener, header->dcid));
  }
  for (auto it = lengths.lower_bound({listener, 0});
       it != lengths.end() && it->first.first == listener; ++it) {
    const std::size_t length = it->first.second;
    if (datagram.size() < 1 + length) break;  // lengths ascend
    if (auto found = find(cid_key(listener, datagram.subspan(1, length)))) return found;
  }
  return std::nullopt;
}

}  // namespace sniproxy::proxy::quic
