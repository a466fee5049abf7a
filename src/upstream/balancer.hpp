#pragma once
// The balancing policies behind one interface. A Balancer picks among the
// members it was built with; what may be picked right now (health, members
// a connection already tried) and the load come with each pick. One per
// worker: a pick updates the policy's state, with no lock.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "config/config.hpp"

namespace sniproxy::upstream {

// A member as a Balancer is built with it.
struct BalancerMember {
  std::uint64_t id = 0;      // stable identity (Member::id): consistent hashing places it by this
  std::uint32_t weight = 1;  // configured weight: consistent hashing's share
};

// A member at the moment of one pick.
struct Candidate {
  bool eligible = false;     // up, and not tried yet by this connection
  std::uint32_t weight = 0;  // effective weight (slow_start.hpp), > 0
  std::uint32_t active = 0;  // connections open to it: least_conn, random_two
};

struct PickContext {
  // One per member, in the order the Balancer was built with.
  std::span<const Candidate> candidates;
  // hash_source, hash_name: the connection's key (key_hash.hpp).
  std::uint64_t hash = 0;
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // The index of the member to try; nullopt when no candidate is eligible.
  virtual std::optional<std::size_t> pick(const PickContext& context) = 0;
};

// `seed` drives random_two's choices (tests fix it). The members are
// fixed: when they change (a reload, a new DNS answer), build a new one.
std::unique_ptr<Balancer> make_balancer(config::Balance balance,
                                        std::span<const BalancerMember> members,
                                        std::uint64_t seed);

}  // namespace sniproxy::upstream
