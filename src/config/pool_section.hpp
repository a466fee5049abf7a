#pragma once
// [pools.NAME] and [pools.NAME.health]: backend pools that routes and
// listener fallbacks name, with their servers, balancing and health checks.
#include <toml++/toml.h>

#include <map>
#include <string>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// Further servers a failed connect may move on to, at most.
inline constexpr std::int64_t kMaxPoolRetries = 32;
// Passed or failed checks in a row, at most, for `rise` and `fall`.
inline constexpr std::int64_t kMaxHealthCount = 100;

// `pools` is the value of the top-level key "pools"; `timeouts` gives the
// default of each pool's connect_timeout. A pool with errors is still
// returned (its errors are in `sink`), so references to it get no second,
// misleading error.
std::map<std::string, Pool> read_pools(const toml::table& pools, const Timeouts& timeouts,
                                       DiagnosticSink& sink);

}  // namespace sniproxy::config
