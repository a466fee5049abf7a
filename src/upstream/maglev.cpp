#include "upstream/maglev.hpp"

#include <algorithm>
#include <limits>

#include "upstream/key_hash.hpp"

namespace sniproxy::upstream {

namespace {

constexpr std::uint16_t kEmpty = std::numeric_limits<std::uint16_t>::max();

// Seeds of the two hashes that make a member's permutation.
constexpr std::uint64_t kOffsetSeed = 0x6d61676c65762d6fULL;
constexpr std::uint64_t kSkipSeed = 0x6d61676c65762d73ULL;

std::uint64_t rehash(std::uint64_t id, std::uint64_t seed) {
  const std::string_view bytes(reinterpret_cast<const char*>(&id), sizeof id);
  return hash_bytes(bytes, seed);
}

struct Filler {
  std::uint16_t member;
  std::uint64_t weight;
  std::uint64_t offset;
  std::uint64_t skip;
  std::uint64_t next = 0;    // position in its permutation
  std::uint64_t target = 0;  // its turn comes when iteration * weight reaches this
};

}  // namespace

MaglevTable::MaglevTable(std::span<const BalancerMember> members) {
  if (members.empty()) return;
  constexpr std::size_t size = kMaglevTableSize;
  slots_.assign(size, kEmpty);
  std::vector<Filler> fillers;
  const std::size_t count = std::min(members.size(), kMaglevMaxMembers);
  fillers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t id = members[i].id;
    fillers.push_back(Filler{static_cast<std::uint16_t>(i), std::max(1U, members[i].weight),
                             rehash(id, kOffsetSeed) % size,
                             rehash(id, kSkipSeed) % (size - 1) + 1});
  }
  // By id, not by the order given: the same members give the same table.
  std::sort(fillers.begin(), fillers.end(), [&](const Filler& a, const Filler& b) {
    return members[a.member].id < members[b.member].id;
  });
  const std::uint64_t max_weight =
      std::max_element(fillers.begin(), fillers.end(), [](const Filler& a, const Filler& b) {
        return a.weight < b.weight;
      })->weight;
  std::size_t filled = 0;
  for (std::uint64_t iteration = 1; filled < size; ++iteration) {
    for (Filler& f : fillers) {
      if (filled == size) break;
      // A member of max_weight takes a turn every iteration, one of a third
      // of it every third.
      if (iteration * f.weight < f.target) continue;
      f.target += max_weight;
      std::size_t slot = (f.offset + f.next * f.skip) % size;
      while (slots_[slot] != kEmpty) {
        ++f.next;
        slot = (f.offset + f.next * f.skip) % size;
      }
      slots_[slot] = f.member;
      ++f.next;
      ++filled;
    }
  }
}

}  // namespace sniproxy::upstream
