#pragma once
// UDP sockets for the QUIC listener and its sessions: non-blocking,
// close-on-exec, one descriptor each.
#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy {

// A UDP socket bound to `address`. An IPv6 one takes IPv4 clients too (as
// IPv4-mapped) unless `v6only`. With `reuse_port` it joins the address's
// SO_REUSEPORT group (one socket per worker thread: the kernel picks one by
// a hash of the client's 4-tuple); without, it is the address's only socket.
Result<UniqueFd> open_udp_listen_socket(const Endpoint& address, bool v6only = true,
                                        bool reuse_port = false);

// A UDP socket connected to `peer`: it receives only the peer's datagrams.
Result<UniqueFd> open_udp_connected_socket(const Endpoint& peer);

}  // namespace sniproxy
