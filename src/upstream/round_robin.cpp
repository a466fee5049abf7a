#include "upstream/round_robin.hpp"

namespace sniproxy::upstream {

std::optional<std::size_t> RoundRobin::pick(const PickContext& context) {
  const auto& candidates = context.candidates;
  if (current_.size() != candidates.size()) current_.assign(candidates.size(), 0);
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].eligible) continue;
    current_[i] += candidates[i].weight;
    total += candidates[i].weight;
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

}  // namespace sniproxy::upstream
