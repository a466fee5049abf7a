#include "proxy/quic/quic_route.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/server_name.hpp"
#include "upstream/attempt_plan.hpp"
#include "upstream/key_hash.hpp"

namespace sniproxy::proxy::quic {

namespace {

void use_target(const config::Target& target, const Runtime& runtime, const Endpoint& client,
                WorkerPools& pools, QuicDestination& out) {
  // (a route's target, or the fallback's)
  switch (target.kind) {
    case config::Target::Kind::deny:
      out.drop = observe::QuicDrop::denied;
      out.detail = "deny";
      return;
    case config::Target::Kind::backend:
      if (auto ip = IpAddress::parse(target.host)) {
        out.backend = Endpoint{*ip, target.port};
      } else {
        out.resolve_host = target.host;
        out.port = target.port;
      }
      return;
    case config::Target::Kind::resolve:
      if (out.server_name.empty()) {
        out.drop = observe::QuicDrop::no_route;
        out.detail = "resolve target without a server name";
        return;
      }
      out.resolve_host = out.server_name;
      out.port = target.port;
      out.guarded = true;
      out.allow_private = target.allow_private;
      return;
    case config::Target::Kind::pool: {
      auto it = runtime.pools.find(target.pool);
      if (it == runtime.pools.end()) {
        out.drop = observe::QuicDrop::backend_error;
        out.detail = "no pool " + target.pool;
        return;
      }
      const PoolMembers& pool = it->second;
      std::uint64_t hash = 0;
      if (pool.pool->balance == config::Balance::hash_source) hash = upstream::hash_of(client.ip);
      if (pool.pool->balance == config::Balance::hash_name)
        hash = upstream::hash_of(out.server_name);
      upstream::AttemptPlan plan(pool.pool->retries, hash);
      auto pick = pools.next(runtime.generation, pool, plan);
      if (!pick) {
        out.drop = observe::QuicDrop::backend_error;
        out.detail = fmt::format("pool {}: no server is up", pool.pool->name);
        return;
      }
      out.backend = pick->member.endpoint;
      out.member_id = pick->member.id;
      return;
    }
  }
}

}  // namespace

QuicDestination route_quic_hello(const protocol::quic::QuicHelloInfo& info, const Runtime& runtime,
                                 std::size_t listener_index, const Endpoint& client,
                                 WorkerPools& pools, observe::Metrics& metrics) {
  QuicDestination out;
  const config::Listener& listener = runtime.config.listeners[listener_index];
  std::optional<std::string> name;
  if (info.hello.server_name) name = normalize_server_name(*info.hello.server_name);
  if (name) {
    out.server_name = *name;
    const auto* table = runtime.router.table(listener.table);
    const config::Route* route = table != nullptr ? table->lookup(*name, info.hello.alpn) : nullptr;
    if (route != nullptr) {
      observe::bump(
          metrics
              .route(listener.table, route->pattern, fmt::format("{}", fmt::join(route->alpn, ",")))
              .connections);
      use_target(route->target, runtime, client, pools, out);
      return out;
    }
    out.detail = "no route";
  } else {
    out.detail = info.hello.server_name ? "invalid server name" : "no server name";
  }
  if (listener.fallback) use_target(*listener.fallback, runtime, client, pools, out);
  return out;
}

}  // namespace sniproxy::proxy::quic
