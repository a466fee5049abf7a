#include "topology.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.hpp"

namespace sniproxy::quic_tc_test {
namespace {

IpAddress parse(std::string_view text) {
  return IpAddress::parse(text).value();
}

}  // namespace

Topology::Topology()
    : tag_(integration::unique_tag()),
      client_ns_("sniproxy-qtc-c" + tag_),
      proxy_ns_("sniproxy-qtc-p" + tag_),
      backend_ns_("sniproxy-qtc-b" + tag_),
      client_if_("qc" + tag_),
      proxy_client_if_("qpc" + tag_),
      proxy_backend_if_("qpb" + tag_),
      backend_if_("qb" + tag_) {}

Topology::~Topology() = default;

IpAddress Topology::client(Family family) {
  return parse(family == Family::v4 ? "10.92.1.2" : "fd92:1::2");
}
IpAddress Topology::proxy_client_side(Family family) {
  return parse(family == Family::v4 ? "10.92.1.1" : "fd92:1::1");
}
IpAddress Topology::proxy_backend_side(Family family) {
  return parse(family == Family::v4 ? "10.92.2.1" : "fd92:2::1");
}
IpAddress Topology::backend(Family family) {
  return parse(family == Family::v4 ? "10.92.2.2" : "fd92:2::2");
}

std::string Topology::setup() {
  client_ = std::make_unique<integration::NetNs>(client_ns_);
  proxy_ = std::make_unique<integration::NetNs>(proxy_ns_);
  backend_ = std::make_unique<integration::NetNs>(backend_ns_);
  for (const auto* ns : {client_.get(), proxy_.get(), backend_.get()}) {
    if (!ns->error().empty()) return ns->error();
  }
  struct End {
    const std::string& ns;
    const std::string& device;
    IpAddress (*address)(Family);
    const char* prefix4;
  };
  const End ends[] = {{client_ns_, client_if_, &Topology::client, "/24"},
                      {proxy_ns_, proxy_client_if_, &Topology::proxy_client_side, "/24"},
                      {proxy_ns_, proxy_backend_if_, &Topology::proxy_backend_side, "/24"},
                      {backend_ns_, backend_if_, &Topology::backend, "/24"}};
  std::vector<std::vector<std::string>> steps = {
      {"link", "add", client_if_, "netns", client_ns_, "type", "veth", "peer", "name",
       proxy_client_if_, "netns", proxy_ns_},
      {"link", "add", proxy_backend_if_, "netns", proxy_ns_, "type", "veth", "peer", "name",
       backend_if_, "netns", backend_ns_},
  };
  for (const End& end : ends) {
    steps.push_back({"-n", end.ns, "addr", "add", end.address(Family::v4).to_string() + end.prefix4,
                     "dev", end.device});
    steps.push_back({"-n", end.ns, "addr", "add", end.address(Family::v6).to_string() + "/64",
                     "dev", end.device, "nodad"});
    steps.push_back({"-n", end.ns, "link", "set", end.device, "up"});
  }
  for (const std::string& ns : {client_ns_, proxy_ns_, backend_ns_}) {
    steps.push_back({"-n", ns, "link", "set", "lo", "up"});
  }
  for (const auto& step : steps) {
    if (auto error = integration::ip(step); !error.empty()) return error;
  }
  for (const auto& sender : {std::pair{client_ns_, client_if_}, {backend_ns_, backend_if_}}) {
    std::string error;
    const std::string& device = sender.second;
    std::string entered =
        integration::run_in(sender.first, [&] { error = set_tx_checksum_offload(device, false); });
    if (!entered.empty()) return entered;
    if (!error.empty()) return error;
  }
  return "";
}

std::string set_tx_checksum_offload(const std::string& ifname, bool on) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return std::string("socket: ") + std::strerror(errno);
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  value.data = on ? 1 : 0;
  ifreq request{};
  std::strncpy(request.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (::ioctl(fd.get(), SIOCETHTOOL, &request) != 0) {
    return std::string("ETHTOOL_STXCSUM ") + (on ? "on" : "off") + " on " + ifname + ": " +
           std::strerror(errno);
  }
  return "";
}

}  // namespace sniproxy::quic_tc_test
