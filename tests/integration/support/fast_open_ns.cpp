#include "fast_open_ns.hpp"

#include <fmt/format.h>

namespace sniproxy::integration {

std::unique_ptr<NetNs> fast_open_namespace(const std::string& prefix, int tcp_fastopen,
                                           std::string& error) {
  auto ns = std::make_unique<NetNs>(prefix + unique_tag());
  error = ns->error();
  if (error.empty()) error = ip({"-n", ns->name(), "link", "set", "lo", "up"});
  if (error.empty())
    error = netns_exec(
        ns->name(), {"sysctl", "-q", "-w", fmt::format("net.ipv4.tcp_fastopen={}", tcp_fastopen)});
  return ns;
}

}  // namespace sniproxy::integration
