#include "common/udp_socket.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/listen_socket.hpp"

namespace sniproxy {

namespace {
int family_of(const Endpoint& e) {
  return e.ip.family == Family::v4 ? AF_INET : AF_INET6;
}
}  // namespace

Result<UniqueFd> open_udp_listen_socket(const Endpoint& address, bool v6only, bool reuse_port) {
  UniqueFd fd(::socket(family_of(address), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  if (address.ip.family == Family::v6) {
    const int only = v6only ? 1 : 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
  }
  const int on = 1;
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    return make_error(fmt::format("SO_REUSEPORT: {}", std::strerror(errno)));
  sockaddr_storage ss{};
  const unsigned len = address.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return make_error(
        bind_failure("bind udp", address, errno, "another socket has this UDP address"));
  return fd;
}

Result<UniqueFd> open_udp_connected_socket(const Endpoint& peer) {
  UniqueFd fd(::socket(family_of(peer), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_storage ss{};
  const unsigned len = peer.to_sockaddr(ss);
  // A UDP connect only sets the peer (and picks the local address and port).
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return make_error(fmt::format("connect udp {}: {}", peer.to_string(), std::strerror(errno)));
  return fd;
}

}  // namespace sniproxy
