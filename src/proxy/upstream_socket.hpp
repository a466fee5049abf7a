#pragma once
// The socket for an upstream connect: non-blocking, TCP_NODELAY, bound to the
// source address when one is configured. A failed socket(2) carries its
// errno (EMFILE, ENFILE: wait for a descriptor).
#include <optional>

#include "common/address.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"

namespace sniproxy::proxy {

// What an upstream connect binds to.
struct UpstreamSource {
  std::optional<IpAddress> address;  // nullopt: the kernel's choice
  bool transparent = false;          // `address` is the client's, not the host's
  // source_address = "client" with a client of the other address family
  // than the backend: the connect goes from the proxy's own address.
  bool client_skipped = false;
};

// `source`: the target's source_address, else the listener's. An IP of the
// other family than `backend` is ignored, as it always was.
UpstreamSource upstream_source(const std::optional<config::SourceAddress>& source,
                               const IpAddress& client, Family backend);

// `transparent`: `source` is not the host's own (IP_TRANSPARENT or
// IPV6_TRANSPARENT, which need CAP_NET_RAW or CAP_NET_ADMIN).
Result<UniqueFd> open_upstream_socket(const Endpoint& destination,
                                      const std::optional<IpAddress>& source,
                                      bool transparent = false);

}  // namespace sniproxy::proxy
