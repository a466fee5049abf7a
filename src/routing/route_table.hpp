#pragma once
// One compiled route table: answers "which route serves this server name?"
// without scanning the routes (hash lookups for exact names and wildcard
// suffixes; only regexes are tried one by one, and only after both missed).
#include <cstddef>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::routing {

// Lets the maps be probed with a std::string_view without building a string.
// Deliberately not noexcept: libstdc++ then stores each node's hash, so a
// probe that misses compares stored hashes instead of rehashing every key in
// the bucket chain (that halved wildcard-probe cost at 10,000 routes).
struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const {  // NOLINT(performance-noexcept-*)
    return std::hash<std::string_view>{}(s);
  }
};

class RouteTable {
 public:
  // Compiles a table. A regex that does not compile (or needs back-references,
  // which the linear-time matcher cannot do) is an Error naming its file:line.
  static Result<RouteTable> build(const config::RouteTable& table);

  // `name` must already be normalised (common/server_name.hpp). Order: exact
  // match; else the longest matching wildcard suffix; else the first regex in
  // file order that matches the whole name. nullptr when nothing matches.
  [[nodiscard]] const config::Route* lookup(std::string_view name) const;
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
};

}  // namespace sniproxy::routing
