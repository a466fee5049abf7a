#pragma once
// The routes of one table that carry `alpn`: they match only a client that
// offers one of their protocols. Kept apart from the other routes because
// any of them that matches wins over every route without `alpn`.
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "routing/string_hash.hpp"

namespace sniproxy::routing {

class AlpnRoutes {
 public:
  // `route` must outlive this object and have a non-empty alpn list.
  void add_exact(const config::Route& route);
  void add_wildcard(const config::Route& route);
  void add_regex(std::regex expression, const config::Route& route);
  [[nodiscard]] bool empty() const { return empty_; }

  // Same order as the other routes (exact, longest wildcard suffix, regexes
  // in file order), counting only routes with one of `offered`. Among routes
  // of one pattern (the config gives each protocol at most one), the
  // client's preference order decides.
  [[nodiscard]] const config::Route* lookup(std::string_view name,
                                            std::span<const std::string> offered) const;

 private:
  using Candidates = std::vector<const config::Route*>;  // one pattern's routes
  using NameMap =
      std::unordered_map<std::string, Candidates, TransparentStringHash, std::equal_to<>>;
  struct CompiledRegex {
    std::regex expression;
    const config::Route* route;
  };

  NameMap exact_;
  NameMap wildcard_;  // keyed by the suffix with its leading dot
  std::vector<CompiledRegex> regexes_;
  bool empty_ = true;
};

}  // namespace sniproxy::routing
