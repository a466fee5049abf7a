// Feeds arbitrary text to config::load_string and checks the result's
// invariants: a Config exactly when there are no errors, every error inside
// the file and in file order, and a Config whose cross-references hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/loader.hpp"

namespace {

using sniproxy::config::Config;
using sniproxy::config::LoadResult;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_config(const Config& c) {
  check(!c.listeners.empty());
  for (const auto& l : c.listeners) {
    check(!l.name.empty());
    check(c.tables.count(l.table) == 1);
    check(l.where.line >= 1);
    if (l.fallback) check(!sniproxy::config::describe(*l.fallback).empty());
    if (l.fallback && l.fallback->kind == sniproxy::config::Target::Kind::pool)
      check(c.pools.count(l.fallback->pool) == 1);
  }
  for (const auto& [name, pool] : c.pools) {
    check(name == pool.name);
    check(!pool.servers.empty());
    for (const auto& server : pool.servers) check(server.port != 0 && server.weight >= 1);
    check(pool.health.rise >= 1 && pool.health.fall >= 1);
  }
  for (const auto& [name, table] : c.tables) {
    check(name == table.name);
    for (const auto& r : table.routes) {
      check(!r.key.empty());
      check(r.where.line >= 1);
      if (r.target.kind == sniproxy::config::Target::Kind::deny) {
        check(r.target.proxy_protocol == sniproxy::config::ProxyProtocol::none);
        check(!r.target.allow_private);
      } else if (r.target.kind == sniproxy::config::Target::Kind::pool) {
        check(c.pools.count(r.target.pool) == 1);
      } else {
        check(r.target.port != 0);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Prefix files named by [xdp] come from memory, never the disk, and are
  // valid, so every error stays in fuzz.toml.
  const auto prefix_file = [](const std::string&) -> sniproxy::Result<std::string> {
    return std::string("192.0.2.0/24 # a comment\n\n2001:db8::/32\n");
  };
  const LoadResult r = sniproxy::config::load_string(text, "fuzz.toml", prefix_file);
  check(r.config.has_value() == r.errors.empty());
  for (std::size_t i = 0; i < r.errors.size(); ++i) {
    const auto& e = r.errors[i];
    check(e.where.file == "fuzz.toml");
    check(e.where.line >= 1 && e.where.column >= 1);
    check(!e.message.empty());
    check(!e.to_string().empty());
    if (i > 0) {
      const auto& p = r.errors[i - 1].where;
      check(p.line < e.where.line || (p.line == e.where.line && p.column <= e.where.column));
    }
  }
  if (r.config) check_config(*r.config);
  return 0;
}
