#pragma once
// A UDP session as the fast path sees it, and the two map entries (one per
// direction) that carry it. Pure: no map, no kernel.
#include <cstdint>

#include "common/address.hpp"
#include "common/result.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {

// A packet's addresses and ports as it arrives (or, for the backend side,
// as the proxy's session socket sends it).
struct FlowKey {
  Endpoint source;
  Endpoint destination;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FastPathSession {
  // client -> the proxy's listener address, as it arrives from the client.
  FlowKey client_side;
  // the proxy's session socket -> the backend, as the proxy sends it.
  FlowKey backend_side;
  int client_ifindex = 0;   // the device toward the client (replies leave by it)
  int backend_ifindex = 0;  // the device toward the backend
};

struct SessionEntries {
  // client -> listener, rewritten to session socket -> backend.
  sniproxy_quic_fp_key to_backend_key{};
  sniproxy_quic_fp_flow to_backend{};
  // backend -> session socket, rewritten to listener -> client.
  sniproxy_quic_fp_key to_client_key{};
  sniproxy_quic_fp_flow to_client{};
};

// The entries of `session`, or why it cannot be carried: mixed families
// (the program rewrites in place, it does not translate), an unspecified
// address, a zero port, a missing ifindex, or a session whose two
// directions would have the same key.
Result<SessionEntries> session_entries(const FastPathSession& session);

// The map key of a packet with these addresses and ports.
sniproxy_quic_fp_key flow_key_bytes(const FlowKey& key);

}  // namespace sniproxy::bpf
