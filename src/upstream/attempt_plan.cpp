#include "upstream/attempt_plan.hpp"

namespace sniproxy::upstream {

std::optional<std::size_t> AttemptPlan::next(PoolBalancer& balancer,
                                             std::span<const MemberStatus> status, TimePoint now) {
  if (tried_.size() > retries_) return std::nullopt;
  auto picked = balancer.pick(status, tried_, hash_, now);
  if (picked) tried_.push_back(balancer.members()[*picked].id);
  return picked;
}

}  // namespace sniproxy::upstream
