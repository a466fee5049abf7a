// See route_table.cpp: GCC 12's false -Wmaybe-uninitialized inside <regex>.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "routing/alpn_routes.hpp"

#include <algorithm>
#include <utility>

namespace sniproxy::routing {

namespace {

bool offers(const config::Route& route, const std::string& protocol) {
  return std::find(route.alpn.begin(), route.alpn.end(), protocol) != route.alpn.end();
}

bool offers_any(const config::Route& route, std::span<const std::string> offered) {
  return std::any_of(offered.begin(), offered.end(),
                     [&](const std::string& p) { return offers(route, p); });
}

// The route of one pattern that serves the client's most preferred protocol.
const config::Route* pick(const std::vector<const config::Route*>& routes,
                          std::span<const std::string> offered) {
  for (const std::string& protocol : offered) {
    for (const config::Route* route : routes)
      if (offers(*route, protocol)) return route;
  }
  return nullptr;
}

}  // namespace

void AlpnRoutes::add_exact(const config::Route& route) {
  exact_[route.key].push_back(&route);
  empty_ = false;
}

void AlpnRoutes::add_wildcard(const config::Route& route) {
  wildcard_[route.key].push_back(&route);
  empty_ = false;
}

void AlpnRoutes::add_regex(std::regex expression, const config::Route& route) {
  regexes_.push_back(CompiledRegex{std::move(expression), &route});
  empty_ = false;
}

const config::Route* AlpnRoutes::lookup(std::string_view name,
                                        std::span<const std::string> offered) const {
  if (empty_ || offered.empty()) return nullptr;

  if (auto it = exact_.find(name); it != exact_.end()) {
    if (const config::Route* route = pick(it->second, offered)) return route;
  }
  if (!wildcard_.empty()) {
    for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
      if (auto it = wildcard_.find(name.substr(dot)); it != wildcard_.end()) {
        if (const config::Route* route = pick(it->second, offered)) return route;
      }
    }
  }
  for (const auto& regex : regexes_) {
    // The protocol test first: it is far cheaper than the match.
    if (offers_any(*regex.route, offered) &&
        std::regex_match(name.begin(), name.end(), regex.expression))
      return regex.route;
  }
  return nullptr;
}

}  // namespace sniproxy::routing
