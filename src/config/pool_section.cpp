#include "config/pool_section.hpp"

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "common/server_name.hpp"
#include "config/known_keys.hpp"
#include "config/names.hpp"
#include "config/preconnect.hpp"
#include "config/source_address.hpp"
#include "config/target.hpp"

namespace sniproxy::config {

namespace {

std::optional<PoolServer> read_server(const toml::table& table, const std::string& pool,
                                      DiagnosticSink& sink) {
  TableReader r(table, "[[pools." + pool + ".servers]]", kPoolServerKeys, sink);
  PoolServer server;
  server.where = r.where("backend");
  bool ok = true;
  if (auto text = r.string("backend")) {
    // An IP literal or a DNS name, normalised as a route's backend is; a
    // name's addresses are all members, re-resolved as its TTL runs out.
    if (auto target = parse_backend(*text)) {
      server.host = std::move(target->host);
      server.port = target->port;
    } else {
      r.error_at("backend", fmt::format("invalid backend '{}': {}", *text, target.error().message));
      ok = false;
    }
  } else {
    if (!r.has("backend")) r.missing("backend");
    ok = false;
  }
  if (auto weight = r.integer("weight", 1, kMaxPoolServerWeight))
    server.weight = static_cast<std::uint32_t>(*weight);
  else if (r.has("weight"))
    ok = false;
  if (auto backup = r.boolean("backup"))
    server.backup = *backup;
  else if (r.has("backup"))
    ok = false;
  if (!ok) return std::nullopt;
  return server;
}

void read_servers(TableReader& r, Pool& pool) {
  const toml::array* list = r.array("servers", "an array of server tables");
  if (list == nullptr) {
    if (!r.has("servers")) r.missing("servers");
    return;
  }
  if (list->empty()) {
    r.error_at("servers", fmt::format("pool '{}' needs at least one server", pool.name));
    return;
  }
  for (const toml::node& node : *list) {
    const auto* table = node.as_table();
    if (table == nullptr) {
      r.sink().error(node.source(),
                     fmt::format("expected a table for each server of pool '{}', got {} (write "
                                 "{{ backend = \"HOST:PORT\" }})",
                                 pool.name, describe_type(node)));
      continue;
    }
    auto server = read_server(*table, pool.name, r.sink());
    if (!server) continue;
    bool duplicate = false;
    for (const PoolServer& first : pool.servers) {
      if (first.host != server->host || first.port != server->port) continue;
      r.sink().error(server->where,
                     fmt::format("duplicate server '{}' in pool '{}' (first defined at line {})",
                                 describe(*server), pool.name, first.where.line));
      duplicate = true;
      break;
    }
    if (!duplicate) pool.servers.push_back(std::move(*server));
  }
}

// Keys that only mean something with active checks.
void refuse_with_passive_only(TableReader& r) {
  for (std::string_view key : {"timeout", "rise"}) {
    if (r.has(key))
      r.error_at(key, fmt::format("'{}' has no effect with check = \"none\" (a down server is "
                                  "tried again after 'interval'); remove it",
                                  key));
  }
}

HealthCheck read_health(const toml::table& table, const std::string& pool, DiagnosticSink& sink) {
  TableReader r(table, "[pools." + pool + ".health]", kPoolHealthKeys, sink);
  HealthCheck h;
  auto check = r.choice("check", kHealthChecks);
  if (check) h.check = *check;
  const bool check_ok = check || !r.has("check");
  if (auto name = r.string("server_name")) {
    if (auto normal = normalize_server_name(*name)) {
      h.server_name = std::move(*normal);
    } else {
      r.error_at("server_name",
                 fmt::format("invalid server_name '{}': expected a DNS name", *name));
    }
  }
  if (check_ok && h.check == HealthCheckKind::tls_hello && !r.has("server_name")) {
    r.error_at("check", "check = \"tls_hello\" needs a 'server_name' to ask for");
  } else if (check_ok && h.check != HealthCheckKind::tls_hello && r.has("server_name")) {
    r.error_at("server_name", fmt::format("'server_name' has no effect with check = \"{}\"; it "
                                          "applies to check = \"tls_hello\" only",
                                          to_string(h.check)));
  }
  if (check_ok && h.check == HealthCheckKind::none) refuse_with_passive_only(r);
  auto interval = r.duration("interval", true);
  auto timeout = r.duration("timeout", true);
  if (interval) h.interval = *interval;
  if (timeout) h.timeout = *timeout;
  // Compared only when both parsed (or are defaults): a bad one is reported.
  const bool interval_ok = interval || !r.has("interval");
  const bool timeout_ok = timeout || !r.has("timeout");
  if (interval_ok && timeout_ok && h.timeout > h.interval) {
    r.error_at(r.has("timeout") ? "timeout" : "interval",
               fmt::format("'timeout' ({}ms) must not be greater than 'interval' ({}ms): a check "
                           "ends before the next one starts",
                           h.timeout.count(), h.interval.count()));
  }
  if (auto rise = r.integer("rise", 1, kMaxHealthCount)) h.rise = static_cast<std::uint32_t>(*rise);
  if (auto fall = r.integer("fall", 1, kMaxHealthCount)) h.fall = static_cast<std::uint32_t>(*fall);
  return h;
}

Pool read_pool(const toml::table& table, const std::string& name, const Timeouts& timeouts,
               DiagnosticSink& sink) {
  TableReader r(table, "[pools." + name + "]", kPoolKeys, sink);
  Pool pool;
  pool.name = name;
  pool.where = r.where();
  pool.connect_timeout = timeouts.connect;
  if (auto v = r.choice("balance", kBalances)) pool.balance = *v;
  if (auto v = r.duration("connect_timeout", true)) pool.connect_timeout = *v;
  if (auto v = r.integer("retries", 0, kMaxPoolRetries))
    pool.retries = static_cast<std::uint32_t>(*v);
  if (auto v = r.choice("proxy_protocol", kProxyProtocols)) pool.proxy_protocol = *v;
  if (auto v = r.boolean("fast_open")) pool.fast_open = *v;
  if (auto v = r.integer("preconnect", 0, kMaxPreconnect))
    pool.preconnect = static_cast<std::uint32_t>(*v);
  if (auto v = r.duration("slow_start", false)) pool.slow_start = *v;
  pool.source = read_source_address(r);
  if (auto clash = preconnect_clash(pool)) r.error_at("preconnect", *clash);
  read_servers(r, pool);
  if (const auto* health = r.table("health")) pool.health = read_health(*health, name, sink);
  return pool;
}

}  // namespace

std::map<std::string, Pool> read_pools(const toml::table& pools, const Timeouts& timeouts,
                                       DiagnosticSink& sink) {
  std::map<std::string, Pool> out;
  for (auto&& [key, value] : pools) {
    const std::string name(key.str());
    if (name.empty()) {
      sink.error(key.source(), "a pool needs a non-empty name");
      continue;
    }
    const auto* table = value.as_table();
    if (table == nullptr) {
      Pool placeholder;
      placeholder.name = name;
      out.emplace(name, std::move(placeholder));
      sink.error(value.source(), fmt::format("expected a table for pool '{}', got {} (write it as "
                                             "[pools.{}])",
                                             name, describe_type(value), name));
      continue;
    }
    out.emplace(name, read_pool(*table, name, timeouts, sink));
  }
  return out;
}

}  // namespace sniproxy::config
