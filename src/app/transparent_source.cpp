#include "app/transparent_source.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"
#include "config/source_address.hpp"

namespace sniproxy::app {

std::string transparent_source_refusal(const config::Config& config) {
  if (!config::uses_client_source(config)) return "";
  // The capability check is the same for IPV6_TRANSPARENT.
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!probe)
    return fmt::format(
        "source_address = \"client\": cannot open a socket to try IP_TRANSPARENT: {}",
        std::strerror(errno));
  int one = 1;
  if (::setsockopt(probe.get(), IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one) == 0) return "";
  if (errno == EPERM)
    return "source_address = \"client\" needs CAP_NET_RAW (or CAP_NET_ADMIN) to set "
           "IP_TRANSPARENT on upstream sockets, and the proxy does not hold it: grant it "
           "(systemd: AmbientCapabilities=CAP_NET_RAW and CapabilityBoundingSet=... CAP_NET_RAW), "
           "or remove source_address = \"client\"";
  return fmt::format("source_address = \"client\": IP_TRANSPARENT: {}", std::strerror(errno));
}

}  // namespace sniproxy::app
