#pragma once
#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy {

// A non-blocking listening TCP socket with SO_REUSEPORT, so every worker can
// bind its own and the kernel spreads accepts. IPv6 wildcards are v6-only:
// a "[::]" and a "0.0.0.0" listener on one port can coexist.
Result<UniqueFd> open_listen_socket(const Endpoint& address, int backlog = 4096);

}  // namespace sniproxy
