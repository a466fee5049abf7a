#pragma once
// A Maglev lookup table (Eisenbud et al., NSDI 2016): each member fills
// slots in the order of its own permutation of the table, in turns, until
// the table is full. A key's slot is its hash modulo the size; removing one
// of N members moves about 1/N of the keys. Weights give a member turns in
// proportion (as Envoy does). The table depends only on the members' ids and
// weights, not on their order, so every worker builds the same one. Its
// size is fixed: a size that grew with the members would move every key.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "upstream/balancer.hpp"

namespace sniproxy::upstream {

// Prime, as Maglev needs; 655 slots per member of 100, so shares are within
// a fraction of a percent of the weights. 128 KiB a table.
inline constexpr std::size_t kMaglevTableSize = 65537;
// Members past this many get no slots.
inline constexpr std::size_t kMaglevMaxMembers = 65535;

class MaglevTable {
 public:
  // Rebuild by constructing anew from the new members.
  explicit MaglevTable(std::span<const BalancerMember> members);

  [[nodiscard]] std::size_t size() const { return slots_.size(); }
  // The member (an index into the members built with) owning `slot`.
  [[nodiscard]] std::size_t owner(std::size_t slot) const { return slots_[slot]; }
  [[nodiscard]] std::size_t slot_of(std::uint64_t hash) const { return hash % slots_.size(); }
  // The owner of `hash`'s slot or, past members `usable` refuses, of the
  // slots after it: a key of a member that is down or already tried moves
  // to the same next member every time. nullopt when none is usable.
  template <class Usable>
  std::optional<std::size_t> lookup(std::uint64_t hash, Usable usable) const {
    if (slots_.empty()) return std::nullopt;
    const std::size_t start = slot_of(hash);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const std::uint16_t member = slots_[(start + i) % slots_.size()];
      if (usable(member)) return member;
    }
    return std::nullopt;
  }

 private:
  std::vector<std::uint16_t> slots_;
};

}  // namespace sniproxy::upstream
