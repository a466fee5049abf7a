#include "config/routes.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/known_keys.hpp"
#include "config/pattern.hpp"
#include "config/pool_reference.hpp"
#include "config/preconnect.hpp"
#include "config/route_alpn.hpp"
#include "config/source_address.hpp"
#include "config/target.hpp"

namespace sniproxy::config {

namespace {

constexpr std::array<std::string_view, 4> kTargetKeys{"backend", "resolve", "pool", "deny"};

// The one target key of a route, or nullopt after reporting none or several.
std::optional<std::string_view> the_target_key(TableReader& r) {
  std::vector<std::string_view> present;
  for (std::string_view key : kTargetKeys)
    if (r.has(key)) present.push_back(key);
  if (present.empty()) {
    r.sink().error(r.where(), "a route needs one of 'backend', 'resolve', 'pool' or 'deny'");
    return std::nullopt;
  }
  if (present.size() > 1) {
    // Reported at the later of the two in the file: that is the extra one.
    std::string_view first = present[0], second = present[1];
    const SourceLocation a = r.where(first), b = r.where(second);
    if (b.line < a.line || (b.line == a.line && b.column < a.column)) std::swap(first, second);
    r.error_at(second, fmt::format("'{}' conflicts with '{}': a route has exactly one of "
                                   "'backend', 'resolve', 'pool' or 'deny'",
                                   second, first));
    return std::nullopt;
  }
  return present[0];
}

std::optional<Target> read_target(TableReader& r, const std::map<std::string, Pool>& pools) {
  auto key = the_target_key(r);
  if (!key) return std::nullopt;
  if (*key == "backend") {
    auto text = r.string("backend");
    if (!text) return std::nullopt;
    auto target = parse_backend(*text);
    if (!target) {
      r.error_at("backend", fmt::format("invalid backend '{}': {}", *text, target.error().message));
      return std::nullopt;
    }
    return std::move(target).value();
  }
  if (*key == "pool") {
    auto name = r.string("pool");
    if (!name) return std::nullopt;
    Target t;
    t.kind = Target::Kind::pool;
    t.pool = std::move(*name);
    // The route's own proxy_protocol, if any, is set by the caller after.
    if (auto error = resolve_pool_reference(t, false, pools); !error.empty()) {
      r.error_at("pool", std::move(error));
      return std::nullopt;
    }
    return t;
  }
  if (*key == "resolve") {
    auto port = r.integer("resolve", 1, 65535);
    if (!port) return std::nullopt;
    Target t;
    t.kind = Target::Kind::resolve;
    t.port = static_cast<std::uint16_t>(*port);
    return t;
  }
  auto deny = r.boolean("deny");
  if (!deny) return std::nullopt;
  if (!*deny) {
    r.error_at("deny",
               "'deny' can only be true; remove it and give 'backend', 'resolve' or 'pool'");
    return std::nullopt;
  }
  return Target{};
}

struct RouteRead {
  Route route;
  bool pattern_ok = false;  // route.kind/key are set: duplicates can be checked
  bool complete = false;    // nothing about this route was wrong
  SourceLocation match_at;
  SourceLocation alpn_at;
};

RouteRead read_route(const toml::table& table, const std::string& table_name,
                     const std::map<std::string, Pool>& pools, DiagnosticSink& sink) {
  TableReader r(table, "[[tables." + table_name + "]]", kRouteKeys, sink);
  RouteRead out;
  Route& route = out.route;
  route.where = r.where();
  out.match_at = r.where("match");
  if (auto match = r.string("match")) {
    if (auto pattern = parse_pattern(*match)) {
      route.pattern = std::move(*match);
      route.kind = pattern->kind;
      route.key = std::move(pattern->key);
      out.pattern_ok = true;
    } else {
      r.error_at("match", fmt::format("invalid pattern '{}': {}", *match, pattern.error().message));
    }
  } else if (!r.has("match")) {
    r.missing("match");
  }

  out.alpn_at = r.where("alpn");
  auto alpn = read_alpn(r);
  if (alpn) {
    route.alpn = std::move(*alpn);
  } else {
    out.pattern_ok = false;  // its protocols are unknown, so duplicates cannot be judged
  }

  auto target = read_target(r, pools);
  bool ok = out.pattern_ok && alpn.has_value() && target.has_value();
  if (target && target->kind == Target::Kind::deny) {
    for (std::string_view key :
         {"proxy_protocol", "allow_private", "fast_open", "source_address", "preconnect"}) {
      if (r.has(key)) {
        r.error_at(key, fmt::format("'{}' has no effect on a deny route; remove it", key));
        ok = false;
      }
    }
  } else {
    auto proxy_protocol = r.choice("proxy_protocol", kProxyProtocols);
    auto allow_private = r.boolean("allow_private");
    auto fast_open = r.boolean("fast_open");
    auto source = read_source_address(r);
    auto preconnect = r.integer("preconnect", 0, kMaxPreconnect);
    if ((r.has("proxy_protocol") && !proxy_protocol) || (r.has("allow_private") && !allow_private))
      ok = false;
    if (r.has("fast_open") && !fast_open) ok = false;
    if (r.has("source_address") && !source) ok = false;
    if (r.has("preconnect") && !preconnect) ok = false;
    if (ok) {
      if (proxy_protocol) target->proxy_protocol = *proxy_protocol;
      if (allow_private) target->allow_private = *allow_private;
      if (fast_open) target->fast_open = *fast_open;
      if (source) target->source = *source;  // wins over the pool's
      if (preconnect) target->preconnect = static_cast<std::uint32_t>(*preconnect);
      // A clash within a pool's own settings is the pool's error.
      const char* own = r.has("preconnect")  ? "preconnect"
                        : r.has("fast_open") ? "fast_open"
                                             : "source_address";
      if (auto clash = preconnect_clash(*target); clash && r.has(own)) {
        r.error_at(own, *clash);
        ok = false;
      }
    }
  }
  if (ok) route.target = std::move(*target);
  out.complete = ok;
  return out;
}

// A pattern may appear once without `alpn` and once more per ALPN protocol:
// two routes a client could match at the same precedence would leave the
// choice to file order, which is almost surely a mistake. Returns false
// after reporting the clash.
bool check_unique(const RouteRead& read, const std::string& table,
                  std::map<std::tuple<PatternKind, std::string, std::string>, SourceLocation>& seen,
                  DiagnosticSink& sink) {
  const Route& route = read.route;
  if (route.alpn.empty()) {
    auto [first, inserted] =
        seen.emplace(std::make_tuple(route.kind, route.key, ""), read.match_at);
    if (inserted) return true;
    sink.error(read.match_at,
               fmt::format("duplicate route '{}' in table '{}' (first defined at line {})",
                           route.pattern, table, first->second.line));
    return false;
  }
  for (const std::string& protocol : route.alpn) {
    auto [first, inserted] =
        seen.emplace(std::make_tuple(route.kind, route.key, protocol), read.alpn_at);
    if (inserted) continue;
    sink.error(read.alpn_at,
               fmt::format("duplicate route '{}' with ALPN '{}' in table '{}' (first defined at "
                           "line {})",
                           route.pattern, protocol, table, first->second.line));
    return false;
  }
  return true;
}

RouteTable read_table(const std::string& name, const toml::array& routes,
                      const std::map<std::string, Pool>& pools, DiagnosticSink& sink) {
  RouteTable table;
  table.name = name;
  // (kind, key, ALPN protocol or "") -> where it was first defined, to name it
  // in the duplicate error.
  std::map<std::tuple<PatternKind, std::string, std::string>, SourceLocation> seen;
  for (const toml::node& node : routes) {
    const auto* route_table = node.as_table();
    if (route_table == nullptr) {
      sink.error(node.source(), fmt::format("expected a table for each route of table '{}', got {}",
                                            name, describe_type(node)));
      continue;
    }
    RouteRead read = read_route(*route_table, name, pools, sink);
    if (read.pattern_ok && !check_unique(read, name, seen, sink)) continue;
    if (read.complete) table.routes.push_back(std::move(read.route));
  }
  return table;
}

}  // namespace

std::map<std::string, RouteTable> read_tables(const toml::table& tables,
                                              const std::map<std::string, Pool>& pools,
                                              DiagnosticSink& sink) {
  std::map<std::string, RouteTable> out;
  for (auto&& [key, value] : tables) {
    const std::string name(key.str());
    const auto* routes = value.as_array();
    if (routes == nullptr) {
      // Still defined, so listeners naming it get no second, misleading error.
      out.emplace(name, RouteTable{name, {}});
      sink.error(value.source(),
                 fmt::format("expected an array of routes for table '{}', got {} (write each "
                             "route as [[tables.{}]])",
                             name, describe_type(value), name));
      continue;
    }
    if (name.empty()) {
      sink.error(key.source(), "a route table needs a non-empty name");
      continue;
    }
    out.emplace(name, read_table(name, *routes, pools, sink));
  }
  return out;
}

}  // namespace sniproxy::config
