#pragma once
// Smooth weighted round robin (nginx's): each pick, every eligible member
// gains its weight; the one ahead is picked and pays back the sum. Weights
// 5:1:1 give a a b a c a a, not a a a a a b c.
#include <cstdint>
#include <optional>
#include <vector>

#include "upstream/balancer.hpp"

namespace sniproxy::upstream {

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(std::size_t members) : current_(members, 0) {}
  std::optional<std::size_t> pick(const PickContext& context) override;

 private:
  std::vector<std::int64_t> current_;
};

}  // namespace sniproxy::upstream
