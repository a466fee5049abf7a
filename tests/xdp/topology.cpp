#include "topology.hpp"

namespace sniproxy::xdp_test {

IpAddress address(std::string_view text) {
  return IpAddress::parse(text).value();
}

Topology::Topology() : link_(make_link()) {}

integration::VethLink Topology::make_link() {
  const std::string tag = integration::unique_tag();
  auto cidr = [](std::string_view address, int prefix) {
    return std::string(address) + "/" + std::to_string(prefix);
  };
  return integration::VethLink({.ns = "sniproxy-xdp-s" + tag,
                                .device = "xs" + tag,
                                .mac = kServerMac.to_string(),
                                .addresses = {cidr(kServer4, 24), cidr(kServer6, 64)}},
                               {.ns = "sniproxy-xdp-c" + tag,
                                .device = "xc" + tag,
                                .mac = kClientMac.to_string(),
                                .addresses = {cidr(kAllowed4, 24), cidr(kDenied4, 24),
                                              cidr(kAllowed6, 64), cidr(kDenied6, 64)}});
}

}  // namespace sniproxy::xdp_test
