#pragma once
// The members of every pool of one loaded config, each with its health from
// the process-wide table (so a member that stays across a reload keeps its
// state). Built with the Runtime; read by the workers' balancers and the
// active checker.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "upstream/health_table.hpp"
#include "upstream/member.hpp"

namespace sniproxy::proxy {

struct PoolMembers {
  const config::Pool* pool = nullptr;  // in the Runtime's config
  std::vector<upstream::Member> members;
  std::vector<std::shared_ptr<upstream::MemberHealth>> health;  // index-aligned with members
};

// IP-literal servers are one member each. (DNS-named servers are refused by
// the loader until re-resolution drives the member lists.)
// `reloading`: members new to the table (a reload's new servers) with
// active checks take no traffic until their first check passes; at start-up
// every member starts up, as before pools.
std::map<std::string, PoolMembers> pool_members(const config::Config& config,
                                                upstream::HealthTable& table, bool reloading);

}  // namespace sniproxy::proxy
