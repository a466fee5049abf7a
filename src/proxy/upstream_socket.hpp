#pragma once
// The socket for an upstream connect: non-blocking, TCP_NODELAY, bound to the
// listener's source address when one is configured. A failed socket(2)
// carries its errno (EMFILE, ENFILE: wait for a descriptor).
#include <optional>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::proxy {

Result<UniqueFd> open_upstream_socket(const Endpoint& destination,
                                      const std::optional<IpAddress>& source);

}  // namespace sniproxy::proxy
