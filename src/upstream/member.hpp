#pragma once
// A pool's members: one per address of each server (an IP literal is one
// address; a DNS name is all the addresses it resolves to). Health state is
// kept per MemberKey, so a member that stays across a reload or a new DNS
// answer keeps it.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "config/config.hpp"
#include "upstream/time.hpp"

namespace sniproxy::upstream {

struct MemberKey {
  std::string pool;
  std::string server;   // the server as written, normalised: "web3.internal:443"
  std::string address;  // the endpoint it resolved to: "10.0.0.3:443"

  // "web/web3.internal:443/10.0.0.3:443", for logs.
  [[nodiscard]] std::string to_string() const;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees a 0 in the defaulted <=>
  friend auto operator<=>(const MemberKey&, const MemberKey&) = default;
};

struct Member {
  MemberKey key;
  Endpoint endpoint;
  std::uint32_t weight = 1;  // the server's configured weight
  bool backup = false;
  // A hash of `key`: places the member in consistent-hash tables and names
  // it in a connection's set of members already tried.
  std::uint64_t id = 0;
};

// A member at the moment of a pick, gathered by the caller:
// MemberHealth::status() gives it from the shared health and the caller's
// count of connections open to the member.
struct MemberStatus {
  bool up = true;                     // may take connections now (MemberHealth::eligible)
  std::optional<TimePoint> up_since;  // when it came back up: slow start ramps from it
  std::uint32_t active = 0;           // connections open to it
};

Member make_member(const config::Pool& pool, const config::PoolServer& server,
                   const Endpoint& endpoint);

// Addresses each DNS-named server resolved to, by its (normalised) host.
using ResolvedHosts = std::map<std::string, std::vector<IpAddress>>;

// Every member of `pool`, in server order and, within a server, address
// order: IP-literal servers always, named servers for each address in
// `resolved` (none while the name has no answer).
std::vector<Member> members_of(const config::Pool& pool, const ResolvedHosts& resolved);

}  // namespace sniproxy::upstream
