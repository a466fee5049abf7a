#include "sockmap/tcp_rewind.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace sniproxy::bpf::testing {
namespace {

Result<bool> fail(const char* what) {
  return make_error(fmt::format("TCP_REPAIR: {}: {}", what, std::strerror(errno)));
}

template <typename T>
bool set(int fd, int option, const T& value) {
  return ::setsockopt(fd, IPPROTO_TCP, option, &value, sizeof value) == 0;
}

template <typename T>
bool get(int fd, int option, T& value) {
  socklen_t length = sizeof value;
  return ::getsockopt(fd, IPPROTO_TCP, option, &value, &length) == 0;
}

// What the replacement needs of the original connection.
struct Snapshot {
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t address_length = 0;
  std::uint32_t send_seq = 0;  // write_seq: the next byte's sequence number
  std::uint32_t receive_seq = 0;
  tcp_repair_window window{};
  std::uint32_t timestamp = 0;
  int mss = 0;
  tcp_info info{};
};

Result<bool> take_snapshot(int fd, Snapshot& s) {
  socklen_t length = sizeof s.local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&s.local), &length) != 0)
    return fail("getsockname");
  s.address_length = length;
  length = sizeof s.remote;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&s.remote), &length) != 0)
    return fail("getpeername");
  if (!get(fd, TCP_INFO, s.info) || !get(fd, TCP_MAXSEG, s.mss)) return fail("TCP_INFO");
  if (!set(fd, TCP_REPAIR, 1)) return fail("entering repair mode (needs CAP_NET_ADMIN)");
  if (!set(fd, TCP_REPAIR_QUEUE, static_cast<int>(TCP_SEND_QUEUE)) ||
      !get(fd, TCP_QUEUE_SEQ, s.send_seq))
    return fail("reading the send sequence");
  if (!set(fd, TCP_REPAIR_QUEUE, static_cast<int>(TCP_RECV_QUEUE)) ||
      !get(fd, TCP_QUEUE_SEQ, s.receive_seq))
    return fail("reading the receive sequence");
  if (!get(fd, TCP_REPAIR_WINDOW, s.window)) return fail("reading the window");
  if (!get(fd, TCP_TIMESTAMP, s.timestamp)) return fail("reading the timestamp");
  return true;
}

Result<bool> restore(int fd, const Snapshot& s, std::uint32_t rewind) {
  int one = 1;
  if (!set(fd, TCP_REPAIR, 1)) return fail("entering repair mode");
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    return fail("SO_REUSEADDR");
  if (!set(fd, TCP_REPAIR_QUEUE, static_cast<int>(TCP_SEND_QUEUE)) ||
      !set(fd, TCP_QUEUE_SEQ, s.send_seq - rewind))
    return fail("setting the send sequence");
  if (!set(fd, TCP_REPAIR_QUEUE, static_cast<int>(TCP_RECV_QUEUE)) ||
      !set(fd, TCP_QUEUE_SEQ, s.receive_seq))
    return fail("setting the receive sequence");
  // The MSS before connect(): the repair connect sizes segments from it, and
  // a retransmit cut into default 536-byte segments would not overlap.
  // (TCP_MAXSEG takes at most 32767; loopback's 65483 is cut to that.)
  if (!set(fd, TCP_MAXSEG, std::min(s.mss, 32767))) return fail("TCP_MAXSEG");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&s.local), s.address_length) != 0)
    return fail("bind");
  // In repair mode connect() only sets the socket up as ESTABLISHED.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&s.remote), s.address_length) != 0)
    return fail("connect");
  std::vector<tcp_repair_opt> options{{TCPOPT_MAXSEG, static_cast<std::uint32_t>(s.mss)}};
  if ((s.info.tcpi_options & TCPI_OPT_WSCALE) != 0) {
    options.push_back(
        {TCPOPT_WINDOW, static_cast<std::uint32_t>(s.info.tcpi_snd_wscale) |
                            (static_cast<std::uint32_t>(s.info.tcpi_rcv_wscale) << 16)});
  }
  if ((s.info.tcpi_options & TCPI_OPT_SACK) != 0) options.push_back({TCPOPT_SACK_PERMITTED, 0});
  if ((s.info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0) options.push_back({TCPOPT_TIMESTAMP, 0});
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, options.data(),
                   static_cast<socklen_t>(options.size() * sizeof options[0])) != 0)
    return fail("setting the options");
  if ((s.info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0 && !set(fd, TCP_TIMESTAMP, s.timestamp))
    return fail("setting the timestamp");
  tcp_repair_window window = s.window;
  if (!set(fd, TCP_REPAIR_WINDOW, window)) return fail("setting the window");
  if (!set(fd, TCP_REPAIR, 0)) return fail("leaving repair mode");
  return true;
}

}  // namespace

Result<UniqueFd> rewind_sender(UniqueFd connected, std::uint32_t rewind) {
  Snapshot snapshot;
  if (auto taken = take_snapshot(connected.get(), snapshot); !taken.ok()) return taken.error();
  connected.reset();  // in repair mode: no FIN, no RST
  UniqueFd replacement(::socket(snapshot.local.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!replacement.valid()) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  if (auto restored = restore(replacement.get(), snapshot, rewind); !restored.ok())
    return restored.error();
  return replacement;
}

}  // namespace sniproxy::bpf::testing
