#pragma once
// TCP Fast Open. Listening side: a client's first bytes (its hello) may ride
// in its SYN, saving a round trip, once it holds a cookie from us.
// Connecting side: our hello rides in the SYN to a backend we hold a cookie
// from (TCP_FASTOPEN_CONNECT).
#include "common/result.hpp"

namespace sniproxy {

// Sets TCP_FASTOPEN on a listening socket: up to `queue` SYNs with data may
// wait to be accepted. Works before or after listen(), so also on a socket
// systemd passed.
Result<bool> set_fast_open_queue(int listen_fd, unsigned queue);

// True when the SYN exchange of a socket carried data the peer took: on an
// accepted socket, our kernel took the client's SYN data (not a SYN whose
// data was dropped for a missing or stale cookie); on a connected one, the
// backend's SYN-ACK acknowledged the data our SYN carried.
bool syn_data_accepted(int fd);

// Sets TCP_FASTOPEN_CONNECT on a socket not yet connected: its connect()
// then returns at once (deferred) when a cookie for the destination is
// cached, and the first send carries its data in the SYN; without a cookie
// the connect is a normal handshake that asks for one. False when the host
// does not allow it (net.ipv4.tcp_fastopen without bit 1): a plain connect.
bool enable_fast_open_connect(int fd);

// True when a connect() that returned 0 was deferred by Fast Open: the
// socket is still in SYN_SENT with nothing sent, waiting for its first send.
bool connect_deferred(int fd);

}  // namespace sniproxy
