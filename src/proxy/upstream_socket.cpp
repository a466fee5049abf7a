#include "proxy/upstream_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sniproxy::proxy {

Result<UniqueFd> open_upstream_socket(const Endpoint& destination,
                                      const std::optional<IpAddress>& source) {
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
    sockaddr_storage ss{};
    const unsigned len = Endpoint{*source, 0}.to_sockaddr(ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return make_error(
          fmt::format("bind to source {}: {}", source->to_string(), std::strerror(errno)));
  }
  return fd;
}

}  // namespace sniproxy::proxy
