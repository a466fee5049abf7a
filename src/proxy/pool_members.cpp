#include "proxy/pool_members.hpp"

namespace sniproxy::proxy {

std::map<std::string, PoolMembers> pool_members(const config::Config& config,
                                                upstream::HealthTable& table, bool reloading) {
  std::map<std::string, PoolMembers> out;
  for (const auto& [name, pool] : config.pools) {
    PoolMembers& p = out[name];
    p.pool = &pool;
    p.members = upstream::members_of(pool, {});
    const auto settings = upstream::HealthSettings::from(pool.health);
    for (const auto& m : p.members) p.health.push_back(table.acquire(m.key, settings, reloading));
  }
  return out;
}

}  // namespace sniproxy::proxy
