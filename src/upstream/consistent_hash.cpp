#include "upstream/consistent_hash.hpp"

#include <algorithm>

namespace sniproxy::upstream {

std::optional<std::size_t> ConsistentHash::pick(const PickContext& context) {
  const auto& candidates = context.candidates;
  // Without an eligible member the table walk would visit every slot.
  if (std::none_of(candidates.begin(), candidates.end(),
                   [](const Candidate& c) { return c.eligible; }))
    return std::nullopt;
  return table_.lookup(context.hash, [&](std::size_t member) {
    return member < candidates.size() && candidates[member].eligible;
  });
}

}  // namespace sniproxy::upstream
