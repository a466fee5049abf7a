#pragma once
// [xdp]: the interfaces and attach mode of the XDP source-address filter,
// its allow and deny lists (inline, and from prefix files whose errors point
// at the prefix file's own LINE:COL), and the per-source SYN rate guard.
#include <toml++/toml.h>

#include <cstddef>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/file_reader.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// Prefixes per list and address family: the size of each BPF LPM-trie map
// (memory is taken per entry inserted, not up front).
inline constexpr std::size_t kXdpMaxPrefixes = 65536;

// Prefix files named relative to the config file's directory.
Xdp read_xdp(const toml::table& table, DiagnosticSink& sink, const FileReader& read_file);

// What in [xdp] cannot change on a reload ("" if nothing): adding or
// removing the section, its interfaces or its mode. Lists, rates and the log
// interval apply in place.
std::string xdp_reload_blocker(const std::optional<Xdp>& running, const std::optional<Xdp>& next);

}  // namespace sniproxy::config
