#include "upstream/balancer.hpp"

#include "upstream/consistent_hash.hpp"
#include "upstream/least_conn.hpp"
#include "upstream/random_two.hpp"
#include "upstream/round_robin.hpp"

namespace sniproxy::upstream {

std::unique_ptr<Balancer> make_balancer(config::Balance balance,
                                        std::span<const BalancerMember> members,
                                        std::uint64_t seed) {
  switch (balance) {
    case config::Balance::round_robin:
      return std::make_unique<RoundRobin>(members.size());
    case config::Balance::least_conn:
      return std::make_unique<LeastConn>(members.size());
    case config::Balance::random_two:
      return std::make_unique<RandomTwo>(seed);
    case config::Balance::hash_source:
    case config::Balance::hash_name:
      return std::make_unique<ConsistentHash>(members);
  }
  return std::make_unique<RoundRobin>(members.size());
}

}  // namespace sniproxy::upstream
