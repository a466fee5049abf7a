#pragma once
// A route's `pool = "NAME"` or a listener's `fallback = "pool:NAME"`: the
// pool must exist, and its proxy_protocol and source_address apply unless
// the referrer sets its own.
#include <map>
#include <string>

#include "config/config.hpp"

namespace sniproxy::config {

// "" when `target` is no pool target or names a pool in `pools`; else the
// error to report where it is named ("no pool 'webb'; did you mean
// 'web'?"). Otherwise, when `own_proxy_protocol` is false, the target takes
// the pool's proxy_protocol; it always takes the pool's fast_open (a route
// that sets its own overrides it after), and the pool's source_address
// unless the target has one.
std::string resolve_pool_reference(Target& target, bool own_proxy_protocol,
                                   const std::map<std::string, Pool>& pools);

}  // namespace sniproxy::config
