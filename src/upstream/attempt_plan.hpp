#pragma once
// One connection's connect attempts to a pool: the first pick, then after
// each failed connect up to `retries` more, never the same member twice.
// Members are remembered by id, so a plan stays right when the worker's
// PoolBalancer is rebuilt between attempts (a reload, a new DNS answer).
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "upstream/pool_balancer.hpp"

namespace sniproxy::upstream {

class AttemptPlan {
 public:
  // `hash`: the connection's key for hash_source / hash_name (key_hash.hpp).
  AttemptPlan(std::uint32_t retries, std::uint64_t hash) : retries_(retries), hash_(hash) {}

  // The member to try next (an index into balancer.members()), counted as
  // tried; nullopt when 1 + retries attempts were made or no member that is
  // up is left untried. `status` as for PoolBalancer::pick.
  std::optional<std::size_t> next(PoolBalancer& balancer, std::span<const MemberStatus> status,
                                  TimePoint now);

  [[nodiscard]] std::size_t attempts() const { return tried_.size(); }
  [[nodiscard]] std::span<const std::uint64_t> tried() const { return tried_; }

 private:
  std::uint32_t retries_;
  std::uint64_t hash_;
  std::vector<std::uint64_t> tried_;  // member ids, in the order tried
};

}  // namespace sniproxy::upstream
