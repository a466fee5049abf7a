#include "upstream/least_conn.hpp"

namespace sniproxy::upstream {

namespace {

// a.active / a.weight < b.active / b.weight, without division.
bool less_loaded(const Candidate& a, const Candidate& b) {
  return std::uint64_t{a.active} * b.weight < std::uint64_t{b.active} * a.weight;
}

}  // namespace

std::optional<std::size_t> LeastConn::pick(const PickContext& context) {
  const auto& candidates = context.candidates;
  const Candidate* least = nullptr;
  for (const Candidate& c : candidates)
    if (c.eligible && (least == nullptr || less_loaded(c, *least))) least = &c;
  if (least == nullptr) return std::nullopt;
  least_.assign(candidates.begin(), candidates.end());
  for (Candidate& c : least_) c.eligible = c.eligible && !less_loaded(*least, c);
  return tie_break_.pick(PickContext{least_, context.hash});
}

}  // namespace sniproxy::upstream
