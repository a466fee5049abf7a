#pragma once
// [[tables.NAME]] route tables.
#include <toml++/toml.h>

#include <map>
#include <string>

#include "config/config.hpp"
#include "config/table_reader.hpp"

namespace sniproxy::config {

// `tables` is the value of the top-level key "tables"; `pools` the pools
// already read, which routes' `pool` keys must name.
std::map<std::string, RouteTable> read_tables(const toml::table& tables,
                                              const std::map<std::string, Pool>& pools,
                                              DiagnosticSink& sink);

}  // namespace sniproxy::config
