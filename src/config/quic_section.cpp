#include "config/quic_section.hpp"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "config/interface_list.hpp"
#include "config/known_keys.hpp"

namespace sniproxy::config {

namespace {

constexpr std::int64_t kMaxFlows = 10'000'000;
// A datagram is at most 64 KiB; holding more than this per flow is a memory
// gift to whoever spoofs Initials.
constexpr std::int64_t kMaxHeldBytes = std::int64_t{1024} * 1024;

// A socket buffer: at least a few full datagrams; the kernel keeps the
// value in an int and doubles it.
constexpr std::int64_t kMinSocketBuffer = std::int64_t{64} * 1024;
constexpr std::int64_t kMaxSocketBuffer = std::int64_t{256} * 1024 * 1024;

// The listener keys that make sense for TCP only.
constexpr std::array<std::string_view, 6> kTcpOnlyListenerKeys{
    "mode",           "fast_open_queue",        "proxy_protocol_in", "trusted_sources",
    "source_address", "fallback_proxy_protocol"};

SourceLocation key_location(const toml::table& table, std::string_view key, DiagnosticSink& sink) {
  const toml::node* node = table.get(key);
  return sink.at(node != nullptr ? node->source() : table.source());
}

// "" if a datagram can reach `target`; else what is wrong with it.
std::string quic_target_problem(const Target& target, const std::map<std::string, Pool>& pools) {
  switch (target.kind) {
    case Target::Kind::deny:
      return {};
    case Target::Kind::resolve:
    case Target::Kind::backend:
      break;
    case Target::Kind::pool: {
      auto it = pools.find(target.pool);
      if (it != pools.end() && it->second.health.check != HealthCheckKind::none)
        return fmt::format(
            "pool '{}' is checked over TCP; a quic listener's pool needs "
            "[pools.{}.health] check = \"none\" (its servers speak UDP)",
            target.pool, target.pool);
      break;
    }
  }
  if (target.proxy_protocol != ProxyProtocol::none)
    return "PROXY protocol headers cannot go ahead of QUIC datagrams; remove proxy_protocol";
  if (target.fast_open) return "'fast_open' is TCP only; remove it";
  if (target.preconnect != 0) return "'preconnect' is TCP only; remove it";
  if (target.source) return "'source_address' is not supported for a quic listener yet";
  return {};
}

}  // namespace

Quic read_quic(const toml::table& table, DiagnosticSink& sink) {
  TableReader r(table, "[quic]", kQuicKeys, sink);
  Quic q;
  if (auto v = r.duration("hello_timeout", true)) q.hello_timeout = *v;
  if (auto v = r.integer("max_pending_flows", 1, kMaxFlows))
    q.max_pending_flows = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_pending_per_source", 1, kMaxFlows))
    q.max_pending_per_source = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_held_datagrams", 1, 1024))
    q.max_held_datagrams = static_cast<std::uint32_t>(*v);
  // At least one full-sized Initial (1200 bytes) must fit.
  if (auto v = r.integer("max_held_bytes", 1200, kMaxHeldBytes))
    q.max_held_bytes = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_hello_size", 512, kMaxHeldBytes))
    q.max_hello_size = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("max_sessions", 1, kMaxFlows))
    q.max_sessions = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("socket_buffer", kMinSocketBuffer, kMaxSocketBuffer))
    q.socket_buffer = static_cast<std::uint32_t>(*v);
  auto idle = r.duration("idle_timeout", true);
  auto max_idle = r.duration("max_idle_timeout", true);
  if (idle) q.idle_timeout = *idle;
  if (max_idle) q.max_idle_timeout = *max_idle;
  const bool idle_ok = idle || !r.has("idle_timeout");
  const bool max_ok = max_idle || !r.has("max_idle_timeout");
  if (idle_ok && max_ok && q.idle_timeout > q.max_idle_timeout) {
    r.error_at(r.has("max_idle_timeout") ? "max_idle_timeout" : "idle_timeout",
               fmt::format("'idle_timeout' ({}ms) must not be greater than 'max_idle_timeout' "
                           "({}ms)",
                           q.idle_timeout.count(), q.max_idle_timeout.count()));
  }
  if (q.max_pending_per_source > q.max_pending_flows && r.has("max_pending_per_source") &&
      r.has("max_pending_flows")) {
    r.error_at("max_pending_per_source",
               fmt::format("'max_pending_per_source' ({}) must not be greater than "
                           "'max_pending_flows' ({})",
                           q.max_pending_per_source, q.max_pending_flows));
  }
  if (auto v = r.boolean("version_negotiation")) q.version_negotiation = *v;
  if (auto v = r.boolean("fast_path")) q.fast_path = *v;
  q.fast_path_interfaces = read_interface_list(r, "fast_path_interfaces", false);
  if (q.fast_path && !r.has("fast_path_interfaces"))
    r.error_at("fast_path",
               "'fast_path = true' needs 'fast_path_interfaces': the devices whose ingress "
               "carries the clients' and the backends' datagrams, e.g. [\"eth0\"]");
  return q;
}

std::string quic_reload_blocker(const Quic& running, const Quic& next) {
  // The classifier is compiled and attached at start-up.
  if (!running.fast_path && next.fast_path)
    return "[quic] fast_path enabled (its BPF program is loaded at start-up)";
  if (running.fast_path && !next.fast_path)
    return "[quic] fast_path disabled (its BPF program is loaded at start-up)";
  if (next.fast_path && running.fast_path_interfaces != next.fast_path_interfaces)
    return "[quic] fast_path_interfaces changed (the program is attached at start-up)";
  return "";
}

bool check_quic_listener(const toml::table& listener_table, const Listener& listener,
                         const std::map<std::string, RouteTable>& tables,
                         const std::map<std::string, Pool>& pools, DiagnosticSink& sink) {
  bool ok = true;
  for (std::string_view key : kTcpOnlyListenerKeys) {
    if (!listener_table.contains(key)) continue;
    sink.error(key_location(listener_table, key, sink),
               fmt::format("'{}' does not apply to a quic listener (UDP); remove it", key));
    ok = false;
  }
  if (listener.fallback) {
    if (auto problem = quic_target_problem(*listener.fallback, pools); !problem.empty()) {
      sink.error(key_location(listener_table, "fallback", sink), std::move(problem));
      ok = false;
    }
  }
  auto table = tables.find(listener.table);
  if (table == tables.end()) return ok;
  for (const Route& route : table->second.routes) {
    if (auto problem = quic_target_problem(route.target, pools); !problem.empty()) {
      sink.error(route.where,
                 fmt::format("route '{}' of table '{}' (used by quic listener '{}'): {}",
                             route.pattern, listener.table, listener.name, problem));
      ok = false;
    }
  }
  return ok;
}

}  // namespace sniproxy::config
