#include "upstream/member_diff.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace sniproxy::upstream {

namespace {

using AddressesByServer = std::map<std::string, std::set<std::string>>;

AddressesByServer by_server(const std::vector<Member>& members) {
  AddressesByServer out;
  for (const Member& m : members) out[m.key.server].insert(m.key.address);
  return out;
}

// What `from` has that `other` lacks (an absent server lacks everything).
std::vector<std::string> missing_from(const std::set<std::string>& from,
                                      const AddressesByServer& other, const std::string& server) {
  std::vector<std::string> out;
  const auto found = other.find(server);
  for (const std::string& address : from)
    if (found == other.end() || !found->second.contains(address)) out.push_back(address);
  return out;
}

}  // namespace

std::vector<ServerChange> member_changes(const std::vector<Member>& before,
                                         const std::vector<Member>& after) {
  const AddressesByServer old_members = by_server(before);
  const AddressesByServer new_members = by_server(after);
  std::set<std::string> servers;
  for (const auto& [server, addresses] : old_members) servers.insert(server);
  for (const auto& [server, addresses] : new_members) servers.insert(server);

  static const std::set<std::string> kNone;
  std::vector<ServerChange> out;
  for (const std::string& server : servers) {
    const auto was = old_members.find(server);
    const auto now = new_members.find(server);
    ServerChange change{
        server, missing_from(now == new_members.end() ? kNone : now->second, old_members, server),
        missing_from(was == old_members.end() ? kNone : was->second, new_members, server)};
    if (!change.added.empty() || !change.removed.empty()) out.push_back(std::move(change));
  }
  return out;
}

}  // namespace sniproxy::upstream
