#pragma once
// The fast path tests' network: client ns -- proxy ns -- backend ns, joined
// by two veth pairs, with an address of each family on every end. The
// proxy namespace is where the program is attached (ingress of both of its
// devices) and where the proxy's userspace sockets would live. Names are
// unique per process and call; everything goes when the Topology does.
#include <memory>
#include <string>

#include "common/address.hpp"
#include "support/netns.hpp"

namespace sniproxy::quic_tc_test {

class Topology {
 public:
  Topology();
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Creates the namespaces, both pairs and the addresses, and turns off
  // transmit checksum offload on the client's and the backend's device, so
  // their datagrams carry full checksums that the receiving kernel checks
  // (on veth an offloaded checksum is never computed at all). "" or what
  // failed.
  std::string setup();

  [[nodiscard]] const std::string& client_ns() const { return client_ns_; }
  [[nodiscard]] const std::string& proxy_ns() const { return proxy_ns_; }
  [[nodiscard]] const std::string& backend_ns() const { return backend_ns_; }
  [[nodiscard]] const std::string& client_if() const { return client_if_; }
  // The proxy's devices toward the client and toward the backend.
  [[nodiscard]] const std::string& proxy_client_if() const { return proxy_client_if_; }
  [[nodiscard]] const std::string& proxy_backend_if() const { return proxy_backend_if_; }

  static IpAddress client(Family family);
  static IpAddress proxy_client_side(Family family);
  static IpAddress proxy_backend_side(Family family);
  static IpAddress backend(Family family);

 private:
  std::string tag_;
  std::string client_ns_, proxy_ns_, backend_ns_;
  std::string client_if_, proxy_client_if_, proxy_backend_if_, backend_if_;
  std::unique_ptr<integration::NetNs> client_, proxy_, backend_;
};

// Turns transmit checksum offload on or off on `ifname` (SIOCETHTOOL, in
// this thread's namespace). "" or what failed.
std::string set_tx_checksum_offload(const std::string& ifname, bool on);

}  // namespace sniproxy::quic_tc_test
