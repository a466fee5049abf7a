#include "proxy/pool_members.hpp"

#include "common/address.hpp"

namespace sniproxy::proxy {

PublishedMembers::PublishedMembers(const std::shared_ptr<const MemberSnapshot>& first)
    : current_(first), version_(first->version) {}

void PublishedMembers::publish(std::shared_ptr<const MemberSnapshot> next) {
  const std::uint64_t version = next->version;
  current_.store(std::move(next));
  version_.store(version, std::memory_order_release);
}

std::uint64_t next_member_version() {
  static std::atomic<std::uint64_t> versions{0};
  return ++versions;
}

std::shared_ptr<const MemberSnapshot> member_snapshot(const config::Pool& pool,
                                                      const upstream::ResolvedHosts& resolved,
                                                      upstream::HealthTable& table,
                                                      bool unchecked_until_checked) {
  auto snapshot = std::make_shared<MemberSnapshot>();
  snapshot->version = next_member_version();
  snapshot->members = upstream::members_of(pool, resolved);
  const auto settings = upstream::HealthSettings::from(pool.health);
  for (const auto& m : snapshot->members)
    snapshot->health.push_back(table.acquire(m.key, settings, unchecked_until_checked));
  return snapshot;
}

std::map<std::string, PoolMembers> pool_members(const config::Config& config,
                                                upstream::HealthTable& table, bool reloading,
                                                const upstream::ResolvedHosts& resolved) {
  std::map<std::string, PoolMembers> out;
  for (const auto& [name, pool] : config.pools) {
    PoolMembers& p = out[name];
    p.pool = &pool;
    p.current =
        std::make_shared<PublishedMembers>(member_snapshot(pool, resolved, table, reloading));
  }
  return out;
}

bool has_named_servers(const config::Config& config) {
  for (const auto& [name, pool] : config.pools)
    for (const auto& server : pool.servers)
      if (!IpAddress::parse(server.host)) return true;
  return false;
}

}  // namespace sniproxy::proxy
