#pragma once
// Where a QUIC flow whose ClientHello is complete goes: the same route
// tables, ALPN routes, deny and fallback as a TLS connection, and for a pool
// a member picked as the TCP path picks one (no connect to try, so the
// first pick is the one).
#include <optional>
#include <string>

#include "common/address.hpp"
#include "observe/quic_drop.hpp"
#include "protocol/quic/quic_hello_reader.hpp"
#include "proxy/runtime.hpp"
#include "proxy/worker_pools.hpp"

namespace sniproxy::proxy::quic {

struct QuicDestination {
  std::string server_name;  // normalised; "" when the hello named none
  // Set when routed to an address; otherwise, when `resolve_host` is set,
  // that name is to be resolved first (a DNS-named backend, or the server
  // name itself for a resolve target); otherwise `drop` says why not.
  std::optional<Endpoint> backend;
  std::string resolve_host;
  std::uint16_t port = 0;      // with resolve_host
  bool guarded = false;        // a resolve target: the open-proxy guard applies
  bool allow_private = false;  // its override
  observe::QuicDrop drop = observe::QuicDrop::no_route;
  std::string detail;
  std::optional<std::uint64_t> member_id;  // a pool member, counted open while the session lives
};

QuicDestination route_quic_hello(const protocol::quic::QuicHelloInfo& info, const Runtime& runtime,
                                 std::size_t listener_index, const Endpoint& client,
                                 WorkerPools& pools, observe::Metrics& metrics);

}  // namespace sniproxy::proxy::quic
