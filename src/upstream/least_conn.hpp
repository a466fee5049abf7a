#pragma once
// Least connections, weighted: the eligible member with the fewest open
// connections per unit of weight; ties (an idle pool, most of all) go
// round robin by weight among the tied.
#include <optional>
#include <vector>

#include "upstream/balancer.hpp"
#include "upstream/round_robin.hpp"

namespace sniproxy::upstream {

class LeastConn final : public Balancer {
 public:
  explicit LeastConn(std::size_t members) : tie_break_(members) {}
  std::optional<std::size_t> pick(const PickContext& context) override;

 private:
  RoundRobin tie_break_;
  std::vector<Candidate> least_;  // the candidates with only the least loaded eligible
};

}  // namespace sniproxy::upstream
