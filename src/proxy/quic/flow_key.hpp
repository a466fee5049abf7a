#pragma once
// What a QUIC flow or session is known by before any connection ID: the
// listener it came in on, the client's address and port, and the address
// the client sent to (on a wildcard listener one client may talk to two of
// the box's addresses: two flows, each answered from its own address).
#include <cstddef>
#include <functional>

#include "common/address.hpp"

namespace sniproxy::proxy::quic {

struct FlowKey {
  std::size_t listener = 0;  // index into Config::listeners
  Endpoint client;
  IpAddress local;  // the listener's address, or a wildcard one's destination

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    const std::size_t ip = IpAddressHash{}(k.client.ip) ^ (IpAddressHash{}(k.local) * 31);
    return ip ^
           (std::hash<std::size_t>{}(k.listener * 65'537 + k.client.port) * 0x9e3779b97f4a7c15);
  }
};

}  // namespace sniproxy::proxy::quic
