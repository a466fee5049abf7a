#pragma once
// [[listener]] entries and their cross-checks (unique names and addresses,
// tables and fallback pools that exist).
#include <toml++/toml.h>

#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// `listeners` is the value of the top-level key "listener"; `tables` the
// route tables already read, to check each listener's `table` against, and
// `pools` the pools a "pool:NAME" fallback must name.
std::vector<Listener> read_listeners(const toml::array& listeners,
                                     const std::map<std::string, RouteTable>& tables,
                                     const std::map<std::string, Pool>& pools,
                                     DiagnosticSink& sink);

}  // namespace sniproxy::config
