#pragma once
// IP prefixes (CIDR) for the [xdp] allow and deny lists, written inline or
// in a prefix file. Pure: the caller reads the file.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::config {

// "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). A
// prefix with bits set after its length is refused rather than masked: it is
// most often a typo for a longer prefix or another address.
Result<Prefix> parse_prefix(std::string_view text);

// "192.0.2.0/24", "2001:db8::/32".
std::string to_string(const Prefix& prefix);

// `address` lies in `prefix` (same family, first `length` bits equal).
bool contains(const Prefix& prefix, const IpAddress& address);
bool contains(const std::vector<Prefix>& prefixes, const IpAddress& address);

// One problem in a prefix file, at its own LINE:COL (1-based).
struct PrefixFileError {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
};

struct PrefixFile {
  std::vector<Prefix> prefixes;  // file order
  std::vector<PrefixFileError> errors;
};

// One prefix per line. '#' starts a comment that runs to the end of the
// line; blank lines and surrounding spaces or tabs are ignored; CRLF line
// ends are accepted.
PrefixFile parse_prefix_file(std::string_view text);

}  // namespace sniproxy::config
