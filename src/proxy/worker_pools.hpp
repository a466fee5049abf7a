#pragma once
// One worker's balancing over the pools: a PoolBalancer per pool of the
// config in force (rebuilt when a reload or a new DNS answer brings new
// members), and the count of this worker's connections open to each member
// (least_conn weighs it). Counts are by member id, so a connection open to
// a member that left the pool is still counted down when it closes.
// Health is the process's (MemberSnapshot::health); balancing state is per
// worker, so no lock is taken on a pick.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "observe/metrics.hpp"
#include "proxy/pool_members.hpp"
#include "upstream/attempt_plan.hpp"
#include "upstream/pool_balancer.hpp"

namespace sniproxy::proxy {

class WorkerPools {
 public:
  explicit WorkerPools(std::uint64_t seed) : seed_(seed) {}

  struct Pick {
    upstream::Member member;
    std::shared_ptr<upstream::MemberHealth> health;
  };
  // The member a connection tries next under its `plan`, from `pool` as
  // config generation `generation` has it; nullopt when the plan is spent or
  // no member that is up is left untried.
  std::optional<Pick> next(std::uint64_t generation, const PoolMembers& pool,
                           upstream::AttemptPlan& plan);
  void opened(std::uint64_t member_id) { ++active_[member_id]; }
  // The member's counters in `metrics`, looked up under its lock once per
  // member and worker, not on every connect.
  observe::PoolServerMetrics& counters(const upstream::Member& member, observe::Metrics& metrics);
  void closed(std::uint64_t member_id);

 private:
  struct Balanced {
    std::uint64_t generation = 0;
    std::uint64_t version = 0;                       // of `snapshot`
    std::shared_ptr<const MemberSnapshot> snapshot;  // the members the balancer was built on
    std::unique_ptr<upstream::PoolBalancer> balancer;
  };
  std::uint64_t seed_;
  std::map<std::string, Balanced> balancers_;  // by pool name
  std::unordered_map<std::uint64_t, std::uint32_t> active_;
  std::unordered_map<std::uint64_t, observe::PoolServerMetrics*> counters_;  // by member id
  std::vector<upstream::MemberStatus> status_;                               // scratch for one pick
};

}  // namespace sniproxy::proxy
