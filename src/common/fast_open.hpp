#pragma once
// TCP Fast Open on the listening side: a client's first bytes (its hello)
// may ride in its SYN, saving a round trip, once it holds a cookie from us.
#include "common/result.hpp"

namespace sniproxy {

// Sets TCP_FASTOPEN on a listening socket: up to `queue` SYNs with data may
// wait to be accepted. Works before or after listen(), so also on a socket
// systemd passed.
Result<bool> set_fast_open_queue(int listen_fd, unsigned queue);

// True when the accepted socket's SYN carried data the kernel took (not a
// SYN whose data was dropped for a missing or stale cookie).
bool syn_data_accepted(int fd);

}  // namespace sniproxy
