// GCC 12 reports a false -Wmaybe-uninitialized inside <regex>'s
// std::function when optimising with sanitizers; the pragma
// must precede the include to cover locations in the library headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "routing/route_table.hpp"

#include <utility>

#include "config/pattern.hpp"

namespace sniproxy::routing {

namespace {

// Longest normalised server name (common/server_name.hpp).
constexpr std::size_t kMaxNameLength = 253;

// Names are at most 253 bytes (checked in lookup), so with config::kRegexFlags
// (a polynomial-time executor, see config/pattern.hpp) every match is bounded.
using config::kRegexFlags;

std::string describe(const config::Route& route) {
  std::string where = route.where.file.empty() ? "<config>" : route.where.file;
  where += ":" + std::to_string(route.where.line);
  if (route.where.column != 0) where += ":" + std::to_string(route.where.column);
  return where + ": route '" + route.pattern + "'";
}

}  // namespace

Result<RouteTable> RouteTable::build(const config::RouteTable& table) {
  RouteTable out;
  out.size_ = table.routes.size();
  out.routes_ = std::make_unique<config::Route[]>(out.size_);
  for (std::size_t i = 0; i < out.size_; ++i) out.routes_[i] = table.routes[i];

  for (std::size_t i = 0; i < out.size_; ++i) {
    const config::Route& route = out.routes_[i];
    switch (route.kind) {
      case config::PatternKind::exact:
        if (!route.alpn.empty()) {
          out.alpn_.add_exact(route);
        } else {
          out.exact_.try_emplace(route.key, &route);  // first in file order wins
        }
        break;
      case config::PatternKind::wildcard:
        if (route.key.size() < 2 || route.key.front() != '.')
          return make_error(describe(route) + ": wildcard key must be a suffix starting with '.'");
        if (!route.alpn.empty()) {
          out.alpn_.add_wildcard(route);
        } else {
          out.wildcard_.try_emplace(route.key, &route);
        }
        break;
      case config::PatternKind::regex:
        try {
          std::regex expression(route.key, kRegexFlags);
          if (!route.alpn.empty()) {
            out.alpn_.add_regex(std::move(expression), route);
          } else {
            out.regexes_.push_back(CompiledRegex{std::move(expression), &route});
          }
        } catch (const std::regex_error& e) {
          return make_error(describe(route) + ": invalid regular expression: " + e.what());
        }
        break;
    }
  }
  return out;
}

const config::Route* RouteTable::lookup(std::string_view name,
                                        std::span<const std::string> alpn) const {
  if (name.empty() || name.size() > kMaxNameLength) return nullptr;

  if (const config::Route* route = alpn_.lookup(name, alpn)) return route;

  if (auto it = exact_.find(name); it != exact_.end()) return it->second;

  // Each '.' starts a candidate suffix; the first one found is the longest.
  if (!wildcard_.empty()) {
    for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
      if (auto it = wildcard_.find(name.substr(dot)); it != wildcard_.end()) return it->second;
    }
  }

  for (const auto& regex : regexes_) {
    if (std::regex_match(name.begin(), name.end(), regex.expression)) return regex.route;
  }
  return nullptr;
}

}  // namespace sniproxy::routing
