#pragma once
// Builds config::RouteTable values the way config::load() would, without
// depending on the config loader: the pattern decides kind and key.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace sniproxy::routing::testing {

inline config::Route route(std::string pattern, std::string backend, std::uint32_t line = 1) {
  config::Route r;
  r.pattern = pattern;
  if (pattern.rfind('~', 0) == 0) {
    r.kind = config::PatternKind::regex;
    r.key = pattern.substr(1);
  } else if (pattern.rfind("*.", 0) == 0) {
    r.kind = config::PatternKind::wildcard;
    r.key = pattern.substr(1);
  } else {
    r.kind = config::PatternKind::exact;
    r.key = pattern;
  }
  r.target.kind = config::Target::Kind::backend;
  r.target.host = std::move(backend);
  r.target.port = 443;
  r.where = config::SourceLocation{"routes.toml", line, 1};
  return r;
}

inline config::Route deny(std::string pattern, std::uint32_t line = 1) {
  config::Route r = route(std::move(pattern), "", line);
  r.target = config::Target{};
  r.target.kind = config::Target::Kind::deny;
  return r;
}

// A route that matches only clients offering one of `alpn`.
inline config::Route alpn_route(std::string pattern, std::vector<std::string> alpn,
                                std::string backend, std::uint32_t line = 1) {
  config::Route r = route(std::move(pattern), std::move(backend), line);
  r.alpn = std::move(alpn);
  return r;
}

inline config::RouteTable table(std::string name, std::vector<config::Route> routes) {
  return config::RouteTable{std::move(name), std::move(routes)};
}

}  // namespace sniproxy::routing::testing
