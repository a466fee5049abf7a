#include "upstream/random_two.hpp"

namespace sniproxy::upstream {

std::uint64_t RandomTwo::next_random() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::optional<std::size_t> RandomTwo::draw(std::span<const Candidate> candidates,
                                           std::optional<std::size_t> skip) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].eligible && i != skip) total += candidates[i].weight;
  if (total == 0) return std::nullopt;
  std::uint64_t point = next_random() % total;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].eligible || i == skip) continue;
    if (point < candidates[i].weight) return i;
    point -= candidates[i].weight;
  }
  return std::nullopt;
}

std::optional<std::size_t> RandomTwo::pick(const PickContext& context) {
  const auto& candidates = context.candidates;
  auto first = draw(candidates, std::nullopt);
  if (!first) return std::nullopt;
  auto second = draw(candidates, first);
  if (!second) return first;
  const Candidate& a = candidates[*first];
  const Candidate& b = candidates[*second];
  // b.active / b.weight < a.active / a.weight, without division.
  if (std::uint64_t{b.active} * a.weight < std::uint64_t{a.active} * b.weight) return second;
  return first;
}

}  // namespace sniproxy::upstream
