#pragma once
// Parsing the places a Target is written as text: a route's `backend` and a
// listener's `fallback`.
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::config {

// "host:port" or "[v6]:port"; host is an IP literal or a valid DNS name
// (stored normalised: lower case, no trailing dot).
Result<Target> parse_backend(std::string_view text);

// A listener fallback: "deny", "resolve:PORT", "pool:NAME" (the pool is
// checked to exist by the caller), or a backend as above.
Result<Target> parse_fallback(std::string_view text);

}  // namespace sniproxy::config
