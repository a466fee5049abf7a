#pragma once
// One compiled route table: answers "which route serves this server name?"
// without scanning the routes (hash lookups for exact names and wildcard
// suffixes; only regexes are tried one by one, and only after both missed).
#include <cstddef>
#include <memory>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "routing/alpn_routes.hpp"
#include "routing/string_hash.hpp"

namespace sniproxy::routing {

class RouteTable {
 public:
  // Compiles a table. A regex that does not compile (or needs back-references,
  // which the linear-time matcher cannot do) is an Error naming its file:line.
  static Result<RouteTable> build(const config::RouteTable& table);

  // `name` must already be normalised (common/server_name.hpp); `alpn` is
  // what the client offered (empty for HTTP: routes with `alpn` never match
  // then). A route with `alpn` whose pattern matches and that lists one of
  // `alpn` wins first; else, among routes without `alpn`: exact match; else
  // the longest matching wildcard suffix; else the first regex in file order
  // that matches the whole name (routes with `alpn` use the same order among
  // themselves). nullptr when nothing matches.
  [[nodiscard]] const config::Route* lookup(std::string_view name,
                                            std::span<const std::string> alpn = {}) const;
  [[nodiscard]] std::size_t size() const { return size_; }

  RouteTable(RouteTable&&) noexcept = default;
  RouteTable& operator=(RouteTable&&) noexcept = default;
  // The maps point into routes_; a copy would point into the original.
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;
  ~RouteTable() = default;

 private:
  RouteTable() = default;

  using NameMap =
      std::unordered_map<std::string, const config::Route*, TransparentStringHash, std::equal_to<>>;
  struct CompiledRegex {
    std::regex expression;
    const config::Route* route;
  };

  // Heap array allocated once: its address survives moves of the table, so
  // the pointers below stay valid.
  std::unique_ptr<config::Route[]> routes_;
  std::size_t size_ = 0;
  NameMap exact_;
  NameMap wildcard_;                    // keyed by the suffix with its leading dot: ".example.com"
  std::vector<CompiledRegex> regexes_;  // file order
  AlpnRoutes alpn_;                     // the routes with `alpn`, apart
};

}  // namespace sniproxy::routing
