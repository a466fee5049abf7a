#include "topology.hpp"

#include <unistd.h>

#include <atomic>

namespace sniproxy::xdp_test {

IpAddress address(std::string_view text) {
  return IpAddress::parse(text).value();
}

Topology::Topology() {
  static std::atomic<int> sequence{0};
  const std::string tag = std::to_string(::getpid()) + "n" + std::to_string(sequence++);
  server_name_ = "sniproxy-xdp-s" + tag;
  client_name_ = "sniproxy-xdp-c" + tag;
  server_if_ = "xs" + tag;  // at most 15 characters: "xs" + 7-digit pid + "n" + 2 digits
  client_if_ = "xc" + tag;
}

std::string Topology::setup() {
  server_ = std::make_unique<NetNs>(server_name_);
  if (!server_->error().empty()) return server_->error();
  client_ = std::make_unique<NetNs>(client_name_);
  if (!client_->error().empty()) return client_->error();
  const std::string s = server_name_;
  const std::string c = client_name_;
  const std::vector<std::vector<std::string>> steps = {
      // Both ends are born inside their namespaces: a failure can never
      // leave a device behind in the host's namespace.
      {"link", "add", client_if_, "netns", c, "type", "veth", "peer", "name", server_if_, "netns",
       s},
      {"-n", s, "link", "set", server_if_, "address", kServerMac.to_string()},
      {"-n", c, "link", "set", client_if_, "address", kClientMac.to_string()},
      {"-n", s, "addr", "add", std::string(kServer4) + "/24", "dev", server_if_},
      {"-n", s, "addr", "add", std::string(kServer6) + "/64", "dev", server_if_, "nodad"},
      {"-n", c, "addr", "add", std::string(kAllowed4) + "/24", "dev", client_if_},
      {"-n", c, "addr", "add", std::string(kDenied4) + "/24", "dev", client_if_},
      {"-n", c, "addr", "add", std::string(kAllowed6) + "/64", "dev", client_if_, "nodad"},
      {"-n", c, "addr", "add", std::string(kDenied6) + "/64", "dev", client_if_, "nodad"},
      {"-n", s, "link", "set", "lo", "up"},
      {"-n", c, "link", "set", "lo", "up"},
      {"-n", s, "link", "set", server_if_, "up"},
      {"-n", c, "link", "set", client_if_, "up"},
  };
  for (const auto& step : steps) {
    if (auto error = ip(step); !error.empty()) return error;
  }
  return "";
}

}  // namespace sniproxy::xdp_test
