#pragma once
// hash_source and hash_name: the connection's key picks a member through a
// Maglev table, so a client (or a name) keeps its server while the members
// stay. Configured weights set the shares; slow start does not move keys.
#include <optional>

#include "upstream/balancer.hpp"
#include "upstream/maglev.hpp"

namespace sniproxy::upstream {

class ConsistentHash final : public Balancer {
 public:
  explicit ConsistentHash(std::span<const BalancerMember> members) : table_(members) {}
  std::optional<std::size_t> pick(const PickContext& context) override;

 private:
  MaglevTable table_;
};

}  // namespace sniproxy::upstream
