#include "proxy/worker_pools.hpp"

namespace sniproxy::proxy {

std::optional<WorkerPools::Pick> WorkerPools::next(std::uint64_t generation,
                                                   const PoolMembers& pool,
                                                   upstream::AttemptPlan& plan) {
  Balanced& b = balancers_[pool.pool->name];
  // One atomic load on every pick; the snapshot is loaded (and the balancer
  // built) only when a reload or a new DNS answer changed the members.
  if (!b.balancer || b.generation != generation || b.version != pool.current->version()) {
    b.snapshot = pool.current->load();
    b.balancer = std::make_unique<upstream::PoolBalancer>(pool.pool->balance, b.snapshot->members,
                                                          pool.pool->slow_start, seed_);
    b.generation = generation;
    b.version = b.snapshot->version;
  }
  const MemberSnapshot& members = *b.snapshot;
  const auto now = upstream::Clock::now();
  status_.clear();
  for (std::size_t i = 0; i < members.members.size(); ++i) {
    auto it = active_.find(members.members[i].id);
    status_.push_back(members.health[i]->status(it == active_.end() ? 0 : it->second, now));
  }
  auto index = plan.next(*b.balancer, status_, now);
  if (!index) return std::nullopt;
  return Pick{members.members[*index], members.health[*index]};
}

observe::PoolServerMetrics& WorkerPools::counters(const upstream::Member& member,
                                                  observe::Metrics& metrics) {
  observe::PoolServerMetrics*& cached = counters_[member.id];
  if (cached == nullptr) cached = &metrics.pool_server(member.key.pool, member.key.address);
  return *cached;
}

void WorkerPools::closed(std::uint64_t member_id) {
  auto it = active_.find(member_id);
  if (it == active_.end()) return;
  if (--it->second == 0) active_.erase(it);
}

}  // namespace sniproxy::proxy
