#include "common/fast_open.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sniproxy {

namespace {
bool tcp_info_of(int fd, tcp_info& info) {
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
}
}  // namespace

Result<bool> set_fast_open_queue(int listen_fd, unsigned queue) {
  const int q = static_cast<int>(queue);
  if (setsockopt(listen_fd, IPPROTO_TCP, TCP_FASTOPEN, &q, sizeof q) != 0)
    return make_error(fmt::format("TCP_FASTOPEN {}: {}", queue, std::strerror(errno)));
  return true;
}

bool syn_data_accepted(int fd) {
  tcp_info info{};
  return tcp_info_of(fd, info) && (info.tcpi_options & TCPI_OPT_SYN_DATA) != 0;
}

bool enable_fast_open_connect(int fd) {
  const int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one) == 0;
}

bool connect_deferred(int fd) {
  tcp_info info{};
  return tcp_info_of(fd, info) && info.tcpi_state == TCP_SYN_SENT;
}

}  // namespace sniproxy
