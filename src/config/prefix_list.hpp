#pragma once
// A config key holding a list of IP prefixes ("10.0.0.0/8", a bare address),
// as [xdp] allow/deny and a listener's trusted_sources write them. Each bad
// entry is reported at its own line and column.
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// Appends the prefixes of `key` to `out`; nothing when the key is absent.
void read_prefix_list(TableReader& r, std::string_view key, std::vector<Prefix>& out);

}  // namespace sniproxy::config
