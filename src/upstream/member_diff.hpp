#pragma once
// What a new DNS answer (or a reload) changed in a pool's members, per
// server as written: the addresses that joined and those that left. For the
// one log line per change (event=pool_members_changed).
#include <string>
#include <vector>

#include "upstream/member.hpp"

namespace sniproxy::upstream {

struct ServerChange {
  std::string server;                // as written, normalised: "web3.internal:443"
  std::vector<std::string> added;    // endpoints, "10.0.0.3:443", sorted
  std::vector<std::string> removed;  // endpoints, sorted
};

// The servers whose addresses differ between `before` and `after` (members
// of one pool), in server order; none when the two hold the same members.
std::vector<ServerChange> member_changes(const std::vector<Member>& before,
                                         const std::vector<Member>& after);

}  // namespace sniproxy::upstream
