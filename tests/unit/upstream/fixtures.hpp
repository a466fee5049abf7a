#pragma once
// Small builders shared by the upstream tests.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "upstream/balancer.hpp"
#include "upstream/key_hash.hpp"
#include "upstream/member.hpp"
#include "upstream/time.hpp"

namespace sniproxy::upstream::testing {

// Any fixed time: tests step from it.
inline const TimePoint kT0 = TimePoint(std::chrono::seconds(1000));

// Member `i` of pool "p": 10.0.0.<i+1>:443.
inline Member member(std::uint32_t i, std::uint32_t weight = 1, bool backup = false) {
  config::Pool pool;
  pool.name = "p";
  config::PoolServer server;
  server.host = "10.0.0." + std::to_string(i + 1);
  server.port = 443;
  server.weight = weight;
  server.backup = backup;
  return make_member(pool, server, Endpoint{*IpAddress::parse(server.host), 443});
}

inline std::vector<BalancerMember> balancer_members(const std::vector<std::uint32_t>& weights) {
  std::vector<BalancerMember> out;
  for (std::uint32_t i = 0; i < weights.size(); ++i)
    out.push_back(BalancerMember{member(i).id, weights[i]});
  return out;
}

// All eligible, idle, with these weights (already scaled or not: only
// their ratios matter to the policies).
inline std::vector<Candidate> idle(const std::vector<std::uint32_t>& weights) {
  std::vector<Candidate> out;
  for (std::uint32_t w : weights) out.push_back(Candidate{true, w, 0});
  return out;
}

}  // namespace sniproxy::upstream::testing
