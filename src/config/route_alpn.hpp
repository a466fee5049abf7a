#pragma once
// A route's optional `alpn` list: the protocols (RFC 7301 names) a client
// must offer one of for the route to match.
#include <optional>
#include <string>
#include <vector>

#include "config/table_reader.hpp"

namespace sniproxy::config {

// Empty when the key is absent; nullopt after reporting an error (not an
// array, an empty array, an entry that is not a 1..255-byte string, or one
// listed twice).
std::optional<std::vector<std::string>> read_alpn(TableReader& r);

}  // namespace sniproxy::config
