#pragma once
// The one normalisation of a requested server name, shared by config (route
// keys), routing (lookups) and the proxy (names from the wire).
#include <optional>
#include <string>
#include <string_view>

namespace sniproxy {

// Lower-cases ASCII, strips one trailing dot, and checks the result is a
// plausible DNS name: 1..253 bytes, labels of 1..63 bytes of [a-z0-9-_].
// Returns nullopt for anything else (empty, NUL bytes, spaces, "a..b").
std::optional<std::string> normalize_server_name(std::string_view name);

}  // namespace sniproxy
