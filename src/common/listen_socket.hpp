#pragma once
#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy {

// A non-blocking listening TCP socket with SO_REUSEPORT, so every worker can
// bind its own and the kernel spreads accepts. An IPv6 socket takes IPv4
// clients too (as IPv4-mapped addresses) unless `v6only`.
Result<UniqueFd> open_listen_socket(const Endpoint& address, int backlog = 4096,
                                    bool v6only = true);

}  // namespace sniproxy
