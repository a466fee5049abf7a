#include "duplex.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "pattern.hpp"

namespace sniproxy::integration {

DuplexResult run_duplex(int fd, const DuplexPlan& plan, Deadline deadline) {
  constexpr std::size_t kChunk = 256 * 1024;
  DuplexResult r;
  PatternStream outgoing(plan.send_seed);
  PatternChecker incoming(plan.receive_seed);
  std::vector<std::uint8_t> out_buf(kChunk);
  std::size_t out_off = 0, out_len = 0;
  std::vector<std::uint8_t> in_buf(kChunk);
  bool write_closed = false;

  auto fail = [&](IoStatus s) {
    r.status = s;
    r.received = incoming.bytes();
    r.first_mismatch = incoming.first_mismatch();
    return r;
  };

  while (true) {
    if (r.sent == plan.send_bytes && out_off == out_len && !write_closed &&
        plan.half_close_when_sent) {
      ::shutdown(fd, SHUT_WR);
      write_closed = true;
    }
    const bool sending = r.sent < plan.send_bytes;
    if (!sending && r.saw_eof) break;
    if (!sending && !plan.half_close_when_sent && incoming.bytes() >= plan.receive_bytes) break;
    if (deadline.expired()) return fail(IoStatus::timeout);

    // After the peer's EOF, POLLIN would stay ready forever: stop asking.
    pollfd p{fd, static_cast<short>((r.saw_eof ? 0 : POLLIN) | (sending ? POLLOUT : 0)), 0};
    int n = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (n < 0 && errno != EINTR) return fail(IoStatus::error);
    if (n <= 0) continue;

    if (!r.saw_eof && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
      ssize_t got = ::recv(fd, in_buf.data(), in_buf.size(), 0);
      if (got > 0) {
        incoming.consume(std::span(in_buf.data(), static_cast<std::size_t>(got)));
      } else if (got == 0) {
        // While still sending this may be a mere half-close: keep sending,
        // and send reports it if the peer is gone.
        r.saw_eof = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(errno == ECONNRESET ? IoStatus::reset : IoStatus::error);
      }
    }
    if (sending && (p.revents & POLLOUT)) {
      if (out_off == out_len) {
        out_len =
            static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, plan.send_bytes - r.sent));
        outgoing.fill(std::span(out_buf.data(), out_len));
        out_off = 0;
      }
      ssize_t put = ::send(fd, out_buf.data() + out_off, out_len - out_off, MSG_NOSIGNAL);
      if (put > 0) {
        out_off += static_cast<std::size_t>(put);
        r.sent += static_cast<std::uint64_t>(put);
      } else if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(errno == ECONNRESET || errno == EPIPE ? IoStatus::reset : IoStatus::error);
      }
    }
    if (r.saw_eof && incoming.bytes() < plan.receive_bytes) return fail(IoStatus::eof);
  }
  r.received = incoming.bytes();
  r.first_mismatch = incoming.first_mismatch();
  if (r.received != plan.receive_bytes) r.status = IoStatus::eof;
  return r;
}

}  // namespace sniproxy::integration
