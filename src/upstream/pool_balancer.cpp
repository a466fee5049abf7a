#include "upstream/pool_balancer.hpp"

#include <algorithm>

#include "upstream/slow_start.hpp"

namespace sniproxy::upstream {

PoolBalancer::PoolBalancer(config::Balance balance, std::vector<Member> members, Millis slow_start,
                           std::uint64_t seed)
    : members_(std::move(members)), slow_start_(slow_start) {
  std::vector<BalancerMember> primaries, backups;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    (m.backup ? backups_ : primaries_).members.push_back(i);
    (m.backup ? backups : primaries).push_back(BalancerMember{m.id, m.weight});
  }
  primaries_.balancer = make_balancer(balance, primaries, seed);
  // Another stream of random choices for the backups.
  backups_.balancer = make_balancer(balance, backups, ~seed);
}

std::optional<std::size_t> PoolBalancer::pick(std::span<const MemberStatus> status,
                                              std::span<const std::uint64_t> tried,
                                              std::uint64_t hash, TimePoint now) {
  if (status.size() != members_.size()) return std::nullopt;
  if (auto picked = pick_in(primaries_, status, tried, hash, now)) return picked;
  return pick_in(backups_, status, tried, hash, now);
}

std::optional<std::size_t> PoolBalancer::pick_in(Tier& tier, std::span<const MemberStatus> status,
                                                 std::span<const std::uint64_t> tried,
                                                 std::uint64_t hash, TimePoint now) {
  tier.candidates.resize(tier.members.size());
  bool any = false;
  for (std::size_t i = 0; i < tier.members.size(); ++i) {
    const std::size_t index = tier.members[i];
    const Member& m = members_[index];
    const MemberStatus& s = status[index];
    Candidate& c = tier.candidates[i];
    c.eligible = s.up && std::find(tried.begin(), tried.end(), m.id) == tried.end();
    c.weight = effective_weight(m.weight, slow_start_, s.up_since, now);
    c.active = s.active;
    any = any || c.eligible;
  }
  if (!any) return std::nullopt;
  auto picked = tier.balancer->pick(PickContext{tier.candidates, hash});
  if (!picked) return std::nullopt;
  return tier.members[*picked];
}

}  // namespace sniproxy::upstream
