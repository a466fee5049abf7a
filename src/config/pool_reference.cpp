#include "config/pool_reference.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string_view>
#include <vector>

#include "config/suggest.hpp"

namespace sniproxy::config {

std::string resolve_pool_reference(Target& target, bool own_proxy_protocol,
                                   const std::map<std::string, Pool>& pools) {
  if (target.kind != Target::Kind::pool) return "";
  if (auto it = pools.find(target.pool); it != pools.end()) {
    if (!own_proxy_protocol) target.proxy_protocol = it->second.proxy_protocol;
    target.fast_open = it->second.fast_open;    // a route's own, read after, wins
    target.preconnect = it->second.preconnect;  // likewise
    if (!target.source) target.source = it->second.source;
    return "";
  }
  if (pools.empty()) return fmt::format("no pool '{}'; no [pools.NAME] are defined", target.pool);
  std::vector<std::string_view> names;
  names.reserve(pools.size());
  for (const auto& [name, pool] : pools) names.push_back(name);
  if (auto close = closest_match(target.pool, names))
    return fmt::format("no pool '{}'; did you mean '{}'?", target.pool, *close);
  return fmt::format("no pool '{}'; defined pools: {}", target.pool, fmt::join(names, ", "));
}

}  // namespace sniproxy::config
