#include "proxy/quic/socket_buffers.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <limits>

namespace sniproxy::proxy::quic {

namespace {

// Sets one buffer; true when the FORCE option was allowed.
bool set_buffer(int fd, int force_option, int option, std::uint32_t bytes, bool try_force) {
  const int value =
      static_cast<int>(std::min<std::uint32_t>(bytes, std::numeric_limits<int>::max() / 2));
  if (try_force && ::setsockopt(fd, SOL_SOCKET, force_option, &value, sizeof value) == 0)
    return true;
  // Without CAP_NET_ADMIN (EPERM): capped by net.core.[rw]mem_max.
  ::setsockopt(fd, SOL_SOCKET, option, &value, sizeof value);
  return false;
}

std::uint32_t granted(int fd, int option) {
  int value = 0;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0 || value < 0) return 0;
  return static_cast<std::uint32_t>(value / 2);
}

}  // namespace

SocketBufferGrant size_socket_buffers(int fd, std::uint32_t bytes, bool try_force) {
  SocketBufferGrant grant;
  grant.forced = set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, bytes, try_force);
  grant.forced = set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, bytes, grant.forced) && grant.forced;
  grant.receive = granted(fd, SO_RCVBUF);
  grant.send = granted(fd, SO_SNDBUF);
  return grant;
}

std::string socket_buffer_shortfall(const SocketBufferGrant& grant, std::uint32_t asked) {
  std::string raise;
  if (grant.receive < asked) raise = fmt::format("net.core.rmem_max={}", asked);
  if (grant.send < asked)
    raise += fmt::format("{}net.core.wmem_max={}", raise.empty() ? "" : " and ", asked);
  if (raise.empty()) return raise;
  return fmt::format("raise {} (sysctl), or give the proxy CAP_NET_ADMIN", raise);
}

}  // namespace sniproxy::proxy::quic
