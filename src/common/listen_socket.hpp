#pragma once
#include <string>
#include <string_view>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy {

// A non-blocking listening TCP socket with SO_REUSEPORT, so every worker can
// bind its own and the kernel spreads accepts. An IPv6 socket takes IPv4
// clients too (as IPv4-mapped addresses) unless `v6only`.
Result<UniqueFd> open_listen_socket(const Endpoint& address, int backlog = 4096,
                                    bool v6only = true);

// Why bind(2) of `address` failed with `err`, with the usual fix as a hint;
// `in_use_hint` words EADDRINUSE for the kind of socket.
std::string bind_failure(std::string_view what, const Endpoint& address, int err,
                         std::string_view in_use_hint);

}  // namespace sniproxy
