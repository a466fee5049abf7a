#pragma once
// PROXY protocol v1 (text) and v2 (binary) headers, per the haproxy spec
// (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt). The proxy
// writes them to backends; the parser serves tests, fuzzing and backends.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "protocol/parse_status.hpp"

namespace sniproxy::protocol {

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n". When the families differ the
// IPv4 side is written as IPv4-mapped IPv6 and the line says TCP6.
std::string proxy_v1_header(const Endpoint& source, const Endpoint& destination);

// The v2 binary header: signature, PROXY command, AF_INET/AF_INET6 + STREAM,
// addresses and ports, and a PP2_TYPE_AUTHORITY (0x02) TLV carrying the
// requested name unless `authority` is empty (or too long to fit a TLV).
std::vector<std::uint8_t> proxy_v2_header(const Endpoint& source, const Endpoint& destination,
                                          std::string_view authority);

struct ProxyHeader {
  int version = 0;     // 1 or 2
  bool local = false;  // v2 LOCAL command or v1 UNKNOWN: addresses carry nothing
  Endpoint source, destination;
  std::string authority;  // PP2_TYPE_AUTHORITY, empty if absent
  std::size_t size = 0;   // header bytes, to skip before the payload
};

// Parses a v1 or v2 header at the start of `bytes`; nullopt if malformed or
// incomplete.
std::optional<ProxyHeader> parse_proxy_header(std::span<const std::uint8_t> bytes);

// The first bytes a client sent, read as the start of a PROXY header: one
// that is complete (done), one that more bytes may complete (need_more: a
// proper prefix of a v1 line or of a v2 header, `needed` at least that many
// more), or bytes no header starts with (rejected). A v2 header longer than
// `max_size` is rejected without waiting for it.
struct ProxyHeaderScan {
  ParseStatus status = ParseStatus::need_more;
  ProxyHeader header;      // when done
  std::size_t needed = 1;  // when need_more
};
ProxyHeaderScan scan_proxy_header(std::span<const std::uint8_t> bytes, std::size_t max_size);

}  // namespace sniproxy::protocol
