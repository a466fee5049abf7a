#pragma once
// One pool's members and its balancing policy, as one worker sees them:
// primaries first; the backups, under the same policy, only when no primary
// may be picked. Per worker and not thread-safe (the policies keep state);
// built again when the members change.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "upstream/balancer.hpp"
#include "upstream/member.hpp"
#include "upstream/time.hpp"

namespace sniproxy::upstream {

class PoolBalancer {
 public:
  PoolBalancer(config::Balance balance, std::vector<Member> members, Millis slow_start,
               std::uint64_t seed);

  [[nodiscard]] const std::vector<Member>& members() const { return members_; }

  // The member to try next: `status` has one entry per member, in order;
  // members whose id is in `tried` are skipped. nullopt when no member that
  // is up is left untried.
  std::optional<std::size_t> pick(std::span<const MemberStatus> status,
                                  std::span<const std::uint64_t> tried, std::uint64_t hash,
                                  TimePoint now);

 private:
  struct Tier {
    std::vector<std::size_t> members;  // indices into members_
    std::unique_ptr<Balancer> balancer;
    std::vector<Candidate> candidates;  // scratch, one per member of the tier
  };
  std::optional<std::size_t> pick_in(Tier& tier, std::span<const MemberStatus> status,
                                     std::span<const std::uint64_t> tried, std::uint64_t hash,
                                     TimePoint now);

  std::vector<Member> members_;
  Millis slow_start_;
  Tier primaries_;
  Tier backups_;
};

}  // namespace sniproxy::upstream
