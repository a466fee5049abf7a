#include "common/listen_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sniproxy {

std::string bind_failure(std::string_view what, const Endpoint& address, int err,
                         std::string_view in_use_hint) {
  std::string hint;
  if (err == EACCES)
    hint = " (ports below 1024 need CAP_NET_BIND_SERVICE: run as root or grant it)";
  else if (err == EADDRINUSE)
    hint = fmt::format(" ({})", in_use_hint);
  else if (err == EADDRNOTAVAIL)
    hint = " (no local interface has this address)";
  return fmt::format("{} {}: {}{}", what, address.to_string(), std::strerror(err), hint);
}

Result<UniqueFd> open_listen_socket(const Endpoint& address, int backlog, bool v6only) {
  const int family = address.ip.family == Family::v4 ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // inherited by accepted
  if (family == AF_INET6) {
    const int only = v6only ? 1 : 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
  }
  sockaddr_storage ss{};
  const unsigned len = address.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return make_error(
        bind_failure("bind", address, errno, "another process listens there without SO_REUSEPORT"));
  if (::listen(fd.get(), backlog) != 0)
    return make_error(fmt::format("listen {}: {}", address.to_string(), std::strerror(errno)));
  return fd;
}

}  // namespace sniproxy
