#pragma once
// Everything a connection needs from one loaded configuration, built once per
// (re)load and then shared read-only by all workers. A reload publishes a new
// Runtime; connections keep the one they started with.
#include <chrono>
#include <memory>

#include "common/result.hpp"
#include "config/config.hpp"
#include "observe/access_log.hpp"
#include "proxy/pool_members.hpp"
#include "routing/destination_guard.hpp"
#include "routing/router.hpp"

namespace sniproxy::proxy {

struct Runtime {
  config::Config config;
  routing::Router router;
  routing::DestinationGuard guard;
  std::shared_ptr<observe::AccessLog> access_log;
  // Every pool's members and their (process-wide) health.
  std::map<std::string, PoolMembers> pools;
  // Tells one loaded config from the next (a worker rebuilds its balancers).
  std::uint64_t generation = 0;

  // Opens the access log and gathers this host's addresses for the guard.
  // `previous`: the running access log; when the config names the same file
  // and format it is reopened and kept rather than opened anew, so that
  // connections from before a reload write where SIGUSR1 points it later.
  // `health`: the process's member health, which a reload keeps;
  // `reloading`: a config runs already (new pool servers wait for a check).
  // `resolved`: the pool servers' names' last answers (a reload carries
  // them, so a named server that stays keeps its members).
  static Result<std::shared_ptr<const Runtime>> build(
      config::Config config, upstream::HealthTable& health, bool reloading,
      std::shared_ptr<observe::AccessLog> previous = nullptr,
      const upstream::ResolvedHosts& resolved = {});
};

// What in a new config cannot be applied without a restart ("" if nothing).
std::string reload_blockers(const config::Config& running, const config::Config& next);

// The keys a reload accepts but cannot apply until a restart, comma-separated
// as "dns.timeout,dns.servers" ("" if none): the reload goes ahead without them.
std::string reload_ignored(const config::Config& running, const config::Config& next);

// Whether the BPF sockmap programs are needed: a listener forwards in
// sockmap mode, or in auto mode with auto_sockmap.
bool uses_sockmap(const config::Config& config);
// Whether auto mode is used at all with auto_sockmap.
bool uses_auto_sockmap(const config::Config& config);

}  // namespace sniproxy::proxy
