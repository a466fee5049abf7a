#pragma once
// All route tables of one configuration, compiled once per (re)load and then
// only read, so workers share it without locks.
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "config/config.hpp"
#include "routing/route_table.hpp"

namespace sniproxy::routing {

class Router {
 public:
  // The error names the table and the offending route's file:line.
  static Result<Router> build(const config::Config& config);

  // nullptr if no table has this name.
  [[nodiscard]] const RouteTable* table(std::string_view name) const;

 private:
  std::map<std::string, RouteTable, std::less<>> tables_;
};

}  // namespace sniproxy::routing
