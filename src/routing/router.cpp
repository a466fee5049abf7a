#include "routing/router.hpp"

#include <utility>

namespace sniproxy::routing {

Result<Router> Router::build(const config::Config& config) {
  Router router;
  for (const auto& [name, table] : config.tables) {
    auto compiled = RouteTable::build(table);
    if (!compiled) return make_error("table '" + name + "': " + compiled.error().message);
    router.tables_.emplace(name, std::move(compiled).value());
  }
  return router;
}

const RouteTable* Router::table(std::string_view name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

}  // namespace sniproxy::routing
