#pragma once
// The power of two random choices: two distinct members drawn at random by
// weight, the less loaded (per unit of weight) of them picked. Nearly as
// even as least_conn without its herd on the one idlest member when
// workers' views lag.
#include <cstdint>
#include <optional>

#include "upstream/balancer.hpp"

namespace sniproxy::upstream {

class RandomTwo final : public Balancer {
 public:
  explicit RandomTwo(std::uint64_t seed) : state_(seed) {}
  std::optional<std::size_t> pick(const PickContext& context) override;

 private:
  std::uint64_t next_random();  // splitmix64
  // A random eligible member by weight, other than `skip`.
  std::optional<std::size_t> draw(std::span<const Candidate> candidates,
                                  std::optional<std::size_t> skip);

  std::uint64_t state_;
};

}  // namespace sniproxy::upstream
