#pragma once
// `preconnect` on routes and pools: spare connected sockets per backend
// address. It cannot combine with what needs the client before the connect.
#include <optional>
#include <string>

#include "config/config.hpp"

namespace sniproxy::config {

// Why `target` (its own settings merged with its pool's) cannot preconnect,
// or nullopt when it can (or does not ask to).
std::optional<std::string> preconnect_clash(const Target& target);
// The same for a pool's own settings.
std::optional<std::string> preconnect_clash(const Pool& pool);

}  // namespace sniproxy::config
