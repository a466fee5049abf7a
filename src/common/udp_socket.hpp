#pragma once
// UDP sockets for the QUIC listener and its sessions: non-blocking,
// close-on-exec, one descriptor each.
#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy {

// A UDP socket bound to `address` (one worker owns it: no SO_REUSEPORT, so
// that a client's datagrams, whatever its port, reach the same sessions).
// An IPv6 one takes IPv4 clients too (as IPv4-mapped) unless `v6only`.
Result<UniqueFd> open_udp_listen_socket(const Endpoint& address, bool v6only = true);

// A UDP socket connected to `peer`: it receives only the peer's datagrams.
Result<UniqueFd> open_udp_connected_socket(const Endpoint& peer);

}  // namespace sniproxy
