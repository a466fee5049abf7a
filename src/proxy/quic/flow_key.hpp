#pragma once
// What a QUIC flow or session is known by before any connection ID: the
// listener it came in on and the client's address and port.
#include <cstddef>
#include <functional>

#include "common/address.hpp"

namespace sniproxy::proxy::quic {

struct FlowKey {
  std::size_t listener = 0;  // index into Config::listeners
  Endpoint client;

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    const std::size_t ip = IpAddressHash{}(k.client.ip);
    return ip ^
           (std::hash<std::size_t>{}(k.listener * 65'537 + k.client.port) * 0x9e3779b97f4a7c15);
  }
};

}  // namespace sniproxy::proxy::quic
