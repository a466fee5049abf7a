#pragma once
// The open-proxy guard: a `resolve` target connects to whatever the client
// named, so without it any client could reach this host's loopback services,
// the private network behind it, or loop the proxy into itself.
#include <unordered_set>
#include <vector>

#include "common/address.hpp"

namespace sniproxy::routing {

class DestinationGuard {
 public:
  // own_addresses: every local address of this host and every listener
  // address (gathered by the caller; routing does no I/O).
  explicit DestinationGuard(const std::vector<IpAddress>& own_addresses);

  // With allow_private everything is allowed. Otherwise refused: non-public
  // addresses (IpAddress::is_non_public, including v4-mapped forms), IPv6
  // forms that embed a non-public IPv4 address (NAT64 64:ff9b::/96, 6to4
  // 2002::/16, deprecated IPv4-compatible ::/96), and this host's own
  // addresses.
  [[nodiscard]] bool allowed(const IpAddress& destination, bool allow_private) const;

 private:
  std::unordered_set<IpAddress, IpAddressHash> own_;  // canonical (unmapped) forms
};

}  // namespace sniproxy::routing
