#include "proxy/upstream_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sniproxy::proxy {

UpstreamSource upstream_source(const std::optional<config::SourceAddress>& source,
                               const IpAddress& client, Family backend) {
  if (!source) return {};
  if (!source->client)
    return source->ip.family == backend ? UpstreamSource{source->ip, false, false}
                                        : UpstreamSource{};
  if (client.family != backend) return {std::nullopt, false, true};
  return {client, true, false};
}

Result<UniqueFd> open_upstream_socket(const Endpoint& destination,
                                      const std::optional<IpAddress>& source, bool transparent) {
  const int family = destination.ip.family == Family::v4 ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd) {
    const int err = errno;
    Error e =
        make_error(fmt::format("socket: {}{}", std::strerror(err),
                               err == EMFILE || err == ENFILE ? " (out of file descriptors)" : ""));
    e.sys_errno = err;
    return e;
  }
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source && source->family == destination.ip.family) {
    // Pick the port at connect time, not bind time: binds with port 0 would
    // otherwise exhaust ephemeral ports per source address.
    setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    // A client's address is not the host's: binding to it takes
    // IP_TRANSPARENT, and the replies reach this socket through the policy
    // routing the operator set up (README, "Transparent source").
    if (transparent) {
      const bool v4 = family == AF_INET;
      if (setsockopt(fd.get(), v4 ? IPPROTO_IP : IPPROTO_IPV6,
                     v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one, sizeof one) != 0)
        return make_error(fmt::format("{} to bind to the client's address {}: {}",
                                      v4 ? "IP_TRANSPARENT" : "IPV6_TRANSPARENT",
                                      source->to_string(), std::strerror(errno)));
    }
    sockaddr_storage ss{};
    const unsigned len = Endpoint{*source, 0}.to_sockaddr(ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return make_error(
          fmt::format("bind to source {}: {}", source->to_string(), std::strerror(errno)));
  }
  return fd;
}

}  // namespace sniproxy::proxy
