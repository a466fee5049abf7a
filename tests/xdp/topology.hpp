#pragma once
// The XDP tests' network: a "server" namespace where the proxy and its
// backend run, a "client" namespace for clients and floods, joined by one
// veth pair with fixed MAC addresses. The client side carries an allowed
// and a denied address of each family. Names are unique per process and
// test, so parallel runs do not collide, and everything goes when the
// Topology does.
#include <cstdint>
#include <string>

#include "common/address.hpp"
#include "frames.hpp"
#include "support/netns.hpp"

namespace sniproxy::xdp_test {

inline constexpr std::string_view kServer4 = "10.77.0.1";
inline constexpr std::string_view kAllowed4 = "10.77.0.2";
inline constexpr std::string_view kDenied4 = "10.77.0.3";
inline constexpr std::string_view kServer6 = "fd77::1";
inline constexpr std::string_view kAllowed6 = "fd77::2";
inline constexpr std::string_view kDenied6 = "fd77::3";
inline constexpr frames::Mac kServerMac{{0x02, 0x77, 0, 0, 0, 0x01}};
inline constexpr frames::Mac kClientMac{{0x02, 0x77, 0, 0, 0, 0x02}};

IpAddress address(std::string_view text);

class Topology {
 public:
  Topology();
  // Creates the namespaces, the veth pair and the addresses; "" or what failed.
  std::string setup() { return link_.setup(); }

  [[nodiscard]] const std::string& server_ns() const { return link_.a().ns; }
  [[nodiscard]] const std::string& client_ns() const { return link_.b().ns; }
  [[nodiscard]] const std::string& server_if() const { return link_.a().device; }
  [[nodiscard]] const std::string& client_if() const { return link_.b().device; }

 private:
  static integration::VethLink make_link();
  integration::VethLink link_;
};

}  // namespace sniproxy::xdp_test
