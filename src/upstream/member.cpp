#include "upstream/member.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "config/names.hpp"
#include "upstream/key_hash.hpp"

namespace sniproxy::upstream {

std::string MemberKey::to_string() const {
  return fmt::format("{}/{}/{}", pool, server, address);
}

Member make_member(const config::Pool& pool, const config::PoolServer& server,
                   const Endpoint& endpoint) {
  Member m;
  m.key = MemberKey{pool.name, config::describe(server), endpoint.to_string()};
  m.endpoint = endpoint;
  m.weight = server.weight;
  m.backup = server.backup;
  m.id = hash_of(m.key);
  return m;
}

std::vector<Member> members_of(const config::Pool& pool, const ResolvedHosts& resolved) {
  std::vector<Member> members;
  for (const config::PoolServer& server : pool.servers) {
    if (auto ip = IpAddress::parse(server.host)) {
      members.push_back(make_member(pool, server, Endpoint{*ip, server.port}));
      continue;
    }
    auto found = resolved.find(server.host);
    if (found == resolved.end()) continue;
    // Sorted and without repeats: the same answer in another order is the
    // same members.
    std::vector<IpAddress> addresses = found->second;
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    for (const IpAddress& ip : addresses)
      members.push_back(make_member(pool, server, Endpoint{ip, server.port}));
  }
  return members;
}

}  // namespace sniproxy::upstream
