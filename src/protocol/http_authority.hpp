#pragma once
// The authority part of an HTTP target or Host header: host[:port], with
// bracketed IPv6 literals (RFC 3986 3.2, RFC 9110 7.2).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sniproxy::protocol {

struct Authority {
  std::string host;  // without brackets
  std::optional<std::uint16_t> port;
};

// nullopt unless `text` is a non-empty host (reg-name, IPv4 or [IPv6]) with an
// optional ":port" (1..65535; an empty port after ':' means none). Userinfo
// ("user@host") is refused: RFC 9110 4.2.4 deprecates it for http(s).
std::optional<Authority> parse_authority(std::string_view text);

}  // namespace sniproxy::protocol
