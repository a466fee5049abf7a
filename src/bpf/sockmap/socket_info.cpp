#include "bpf/sockmap/socket_info.hpp"

// linux/tcp.h, not netinet/tcp.h: glibc's tcp_info lacks tcpi_bytes_acked and later fields.
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

Error errno_error(const char* what, int fd) {
  return make_error(fmt::format("{} on fd {}: {}", what, fd, std::strerror(errno)));
}

Result<tcp_info> read_tcp_info(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) {
    return errno_error("getsockopt(TCP_INFO)", fd);
  }
  return info;
}

}  // namespace

Result<std::uint64_t> socket_cookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t length = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0) {
    return errno_error("getsockopt(SO_COOKIE)", fd);
  }
  return cookie;
}

Result<std::uint8_t> tcp_state(int fd) {
  auto info = read_tcp_info(fd);
  if (!info.ok()) return info.error();
  return info->tcpi_state;
}

Result<std::uint64_t> send_queue_bytes(int fd) {
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0) return errno_error("ioctl(SIOCOUTQ)", fd);
  return static_cast<std::uint64_t>(queued);
}

namespace {

// tcpi_bytes_acked + SIOCOUTQ with the acked count read first. The send
// queue (write_seq - snd_una) is empty when no segment is in flight
// (packets_out, which tcpi_unacked reports outside LISTEN) and none is
// unsent (write_seq - snd_nxt): no ioctl then.
Result<std::uint64_t> written_with_fin(int fd, const tcp_info& info) {
  if (info.tcpi_unacked == 0 && info.tcpi_notsent_bytes == 0) return info.tcpi_bytes_acked;
  auto queued = send_queue_bytes(fd);
  if (!queued.ok()) return queued.error();
  return info.tcpi_bytes_acked + *queued;
}

}  // namespace

Result<std::uint64_t> stream_bytes_written(int fd, std::optional<bool> fin_queued) {
  auto info = read_tcp_info(fd);
  if (!info.ok()) return info.error();
  auto written = written_with_fin(fd, *info);
  if (!written.ok()) return written.error();
  // A queued FIN takes a sequence number: both counters include it once
  // shutdown(SHUT_WR) or close() queued it. These states mean it was.
  // (Numbers from the kernel's tcp_states.h: FIN_WAIT1, FIN_WAIT2,
  // TIME_WAIT, LAST_ACK, CLOSING.)
  const std::uint8_t state = info->tcpi_state;
  const bool fin =
      fin_queued.value_or(state == 4 || state == 5 || state == 6 || state == 9 || state == 11);
  return fin && *written > 0 ? *written - 1 : *written;
}

Result<std::uint64_t> stream_bytes_read(int fd) {
  auto bases = stream_bases(fd);
  if (!bases.ok()) return bases.error();
  return bases->read;
}

Result<StreamBases> stream_bases(int fd) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto before = read_tcp_info(fd);
    if (!before.ok()) return before.error();
    // The queues of a listening socket are its accept queue.
    if (before->tcpi_state != kTcpEstablished) return StreamBases{before->tcpi_state, 0, 0};
    // Sockets are handed over before any FIN of ours: nothing to take off.
    auto written = written_with_fin(fd, *before);
    if (!written.ok()) return written.error();
    int unread = 0;
    if (::ioctl(fd, SIOCINQ, &unread) != 0) return errno_error("ioctl(SIOCINQ)", fd);
    auto after = read_tcp_info(fd);
    if (!after.ok()) return after.error();
    if (before->tcpi_bytes_received == after->tcpi_bytes_received) {
      return StreamBases{after->tcpi_state, *written,
                         after->tcpi_bytes_received - static_cast<std::uint64_t>(unread)};
    }
  }
  return make_error(fmt::format("fd {}: bytes kept arriving while reading SIOCINQ", fd));
}

Result<TcpCounters> tcp_counters(int fd) {
  auto info = read_tcp_info(fd);
  if (!info.ok()) return info.error();
  return TcpCounters{info->tcpi_bytes_acked, info->tcpi_bytes_received, info->tcpi_notsent_bytes,
                     info->tcpi_unacked, info->tcpi_state};
}

}  // namespace sniproxy::bpf
