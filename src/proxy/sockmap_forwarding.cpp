// Sockmap forwarding: both sockets go into the BPF sockhash and the kernel
// moves the bytes (bpf_c/sockmap.bpf.c); userspace only watches.
//
// Each direction keeps one wake-up armed on its source socket: a POLL_ADD
// for POLLIN | POLLRDHUP. Redirected bytes never wake it (they leave the
// socket inside the kernel); it fires for the three things userspace must
// act on:
//  - bytes the verdict passed because the direction reached its memory
//    bound (the peer stopped reading): recv them, send them to the peer
//    once the kernel's queue for it is flushed, report them as consumed,
//    and hand the direction back to the kernel when the peer has drained
//    (the duties in src/bpf/sockmap_flow.hpp);
//  - end of stream (POLLRDHUP): once every received byte is in the peer's
//    TCP stream, shutdown(peer, SHUT_WR) so the FIN follows the last byte;
//  - a reset or error (POLLERR/POLLHUP): reset both peers.
// Waiting for the kernel (its queue for the peer to flush, the peer to
// drain) is a worker timer with a growing backoff, never a busy loop.
#include <fmt/format.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf/socket_info.hpp"
#include "bpf/sockmap.hpp"
#include "common/log.hpp"
#include "proxy/connection.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

namespace {
constexpr std::chrono::milliseconds kFirstRecheck{1};
constexpr std::chrono::milliseconds kMaxRecheck{100};
constexpr std::size_t kPassedChunk = 64 * 1024;
constexpr int kChunksPerStep = 16;

bpf::Direction sockmap_direction(int d) {
  return d == 0 ? bpf::Direction::client_to_backend : bpf::Direction::backend_to_client;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}
}  // namespace

void Connection::start_sockmap() {
  bpf::Sockmap* map = worker_.shared().sockmap;
  if (map == nullptr) {
    sockmap_fallback("sockmap not loaded");
    return;
  }
  // A PROXY header must precede the hello in the backend's stream. The
  // socket was just connected, so its send buffer takes it at once.
  if (!initial_.empty()) {
    const ssize_t sent =
        ::send(upstream_.get(), initial_.data(), initial_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) initial_.erase(initial_.begin(), initial_.begin() + sent);
    if (!initial_.empty()) {
      sockmap_fallback("PROXY header not sent at once");
      return;
    }
  }
  const auto& forwarding = runtime_->config.forwarding;
  auto inserted = map->insert(client_.get(), upstream_.get(), forwarding.sockmap_queue_cap);
  if (!inserted) {
    sockmap_fallback(
        fmt::format("{}: {}", bpf::to_string(inserted.error().kind), inserted.error().message));
    return;
  }
  sockpair_ = std::make_unique<bpf::SockPair>(*inserted);
  // The kernel forwards the peeked hello itself; that is not activity after
  // the start (the idle sweep compares against this).
  kernel_bytes_seen_ = hello_.size();
  std::vector<std::uint8_t>().swap(hello_);
  for (int d : {0, 1}) sockmap_wait(d);
}

void Connection::sockmap_fallback(const std::string& reason) {
  const auto total = ++worker_.shared().sockmap_fallbacks;
  log::info("sockmap_fallback", "id={} reason={} now=splice fallbacks_total={}", id_,
            log::quote(reason), total);
  sockmap_fell_back_ = true;
  start_splice();
}

void Connection::sockmap_wait(int d) {
  Direction& dir = dirs_[d];
  if (dir.poll_armed) return;
  dir.poll_armed = true;
  dir.recv_op.handler = &Connection::on_sockmap_event;
  io_uring_sqe* s = worker_.ring().sqe(&dir.recv_op);
  io_uring_prep_poll_add(s, dir.from, POLLIN | POLLRDHUP);
  ++pending_;
}

void Connection::on_sockmap_event(int d, int res, unsigned) {
  dirs_[d].poll_armed = false;
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, true, res);
    return;
  }
  sockmap_step(d, true);
}

void Connection::sockmap_recheck_later(int d) {
  Direction& dir = dirs_[d];
  if (dir.recheck_timer != 0) return;
  const auto delay = dir.recheck_delay;
  dir.recheck_delay = std::min(dir.recheck_delay * 2, kMaxRecheck);
  Worker* worker = &worker_;
  const std::uint64_t id = id_;
  dir.recheck_timer = worker_.timers().schedule(reactor::Clock::now() + delay, [worker, id, d] {
    if (Connection* c = worker->find(id)) c->sockmap_recheck(d);
  });
}

void Connection::sockmap_recheck(int d) {
  dirs_[d].recheck_timer = 0;
  if (state_ != State::closing) sockmap_step(d, false);
}

void Connection::sockmap_step(int d, bool woken) {
  Direction& dir = dirs_[d];
  if (dir.eof || dir.length != 0) return;  // finished, or a send to the peer is waiting
  bpf::Sockmap& map = *worker_.shared().sockmap;
  const bpf::Direction direction = sockmap_direction(d);
  pollfd source{dir.from, POLLIN | POLLRDHUP, 0};
  (void)::poll(&source, 1, 0);
  // POLLHUP alone is no error: it also means both directions of the socket
  // are shut down (our SHUT_WR after the peer's FIN). A reset sets SO_ERROR.
  if ((source.revents & POLLERR) != 0) {
    if (const int err = socket_error(dir.from); err != 0) {
      direction_failed(d, true, -err);
      return;
    }
  }
  const bool at_eof = (source.revents & (POLLRDHUP | POLLHUP)) != 0;

  bool progressed = false;
  auto state = map.state(*sockpair_, direction);
  auto control = map.control(*sockpair_, direction);
  if (!state || !control) {
    close(Outcome::reset, true, (state ? control.error() : state.error()).message);
    return;
  }
  // Passed bytes, a bounded number of chunks per step so one connection
  // cannot hold the reactor.
  for (int chunk = 0; chunk < kChunksPerStep && state->passed > control->consumed; ++chunk) {
    if (!sockmap_move_passed(d, *state, *control)) return;  // waiting; resumes itself
    progressed = true;
    state = map.state(*sockpair_, direction);
    control = map.control(*sockpair_, direction);
    if (!state || !control) {
      close(Outcome::reset, true, (state ? control.error() : state.error()).message);
      return;
    }
  }
  // Moving bytes is progress: the next look comes soon, not after a backoff
  // that grew while the kernel's queue was flushing.
  if (progressed) dir.recheck_delay = kFirstRecheck;
  if (state->passed > control->consumed) {
    sockmap_recheck_later(d);
    return;
  }
  if (state->over) {
    auto queued = bpf::send_queue_bytes(dir.to);
    auto unflushed = map.unflushed(*sockpair_, direction);
    if (!queued || !unflushed) {
      close(Outcome::reset, true, (queued ? unflushed.error() : queued.error()).message);
      return;
    }
    const std::uint64_t cap = runtime_->config.forwarding.sockmap_queue_cap;
    if (!bpf::may_resume(*state, *control, *queued, cap)) {
      // The peer still holds too much: the timer catches it draining, the
      // poll catches new passed bytes meanwhile.
      sockmap_recheck_later(d);
      if (!at_eof) sockmap_wait(d);
      return;
    }
    control->limit = bpf::resume_limit(state->redirected, cap, *queued, *unflushed);
    if (auto set = map.set_control(*sockpair_, direction, *control); !set) {
      close(Outcome::reset, true, set.error().message);
      return;
    }
    ++dir.sockmap_resumes;
    progressed = true;
  }
  if (at_eof) {
    sockmap_finish_direction(d);
    return;
  }
  if (progressed) {
    touch();
    dir.recheck_delay = kFirstRecheck;
  }
  // A wake-up that found nothing to do (bytes the verdict had not yet judged,
  // say) waits a backoff before polling again: a level-triggered
  // poll on such a socket would otherwise spin.
  if (woken && !progressed)
    sockmap_recheck_later(d);
  else
    sockmap_wait(d);
}

bool Connection::sockmap_move_passed(int d, const bpf::ForwardState& state,
                                     bpf::ForwardControl& control) {
  Direction& dir = dirs_[d];
  bpf::Sockmap& map = *worker_.shared().sockmap;
  const bpf::Direction direction = sockmap_direction(d);
  // Bytes still queued in the kernel for the peer come first in its stream.
  auto unflushed = map.unflushed(*sockpair_, direction);
  if (!unflushed) {
    close(Outcome::reset, true, unflushed.error().message);
    return false;
  }
  if (*unflushed != 0) {
    sockmap_recheck_later(d);
    return false;
  }
  // Only what already sits in the psock's queue of passed bytes (SIOCINQ
  // reports exactly that on a socket with a verdict). Passed skbs can still
  // wait in the psock backlog behind bytes redirected to this socket, and a
  // recv() that finds the psock queue empty may read the TCP receive queue
  // itself: bytes the verdict has not judged yet, out of order.
  int readable = 0;
  if (::ioctl(dir.from, SIOCINQ, &readable) != 0 || readable <= 0) {
    sockmap_recheck_later(d);
    return false;
  }
  if (dir.passed.empty()) dir.passed.resize(kPassedChunk);
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(
      {dir.passed.size(), state.passed - control.consumed, static_cast<std::uint64_t>(readable)}));
  ssize_t got = 0;
  do {
    got = ::recv(dir.from, dir.passed.data(), want, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  // Passed bytes may still sit in the source's psock backlog (the verdict
  // queues them there behind earlier skbs) and not be readable yet; a FIN
  // already seen makes recv() say EOF meanwhile. Either way: look again.
  if (got == 0 || (got < 0 && errno == EAGAIN)) {
    sockmap_recheck_later(d);
    return false;
  }
  if (got < 0) {
    direction_failed(d, true, -errno);
    return false;
  }
  dir.offset = 0;
  dir.length = static_cast<std::size_t>(got);
  return sockmap_send_passed(d);
}

bool Connection::sockmap_send_passed(int d) {
  Direction& dir = dirs_[d];
  while (dir.offset < dir.length) {
    const ssize_t sent = ::send(dir.to, dir.passed.data() + dir.offset, dir.length - dir.offset,
                                MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno == EAGAIN) {
      // The peer is full: wait for room, then finish and report.
      dir.send_op.handler = &Connection::on_sockmap_writable;
      io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
      io_uring_prep_poll_add(s, dir.to, POLLOUT);
      ++pending_;
      return false;
    }
    if (sent <= 0) {
      direction_failed(d, false, -errno);
      return false;
    }
    dir.offset += static_cast<std::size_t>(sent);
  }
  bpf::Sockmap& map = *worker_.shared().sockmap;
  const bpf::Direction direction = sockmap_direction(d);
  auto control = map.control(*sockpair_, direction);
  if (!control) {
    close(Outcome::reset, true, control.error().message);
    return false;
  }
  control->consumed += dir.length;
  dir.sockmap_passed_bytes += dir.length;
  dir.length = 0;
  if (auto set = map.set_control(*sockpair_, direction, *control); !set) {
    close(Outcome::reset, true, set.error().message);
    return false;
  }
  return true;
}

void Connection::on_sockmap_writable(int d, int res, unsigned) {
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, false, res);
    return;
  }
  if (sockmap_send_passed(d)) sockmap_step(d, false);
}

void Connection::sockmap_finish_direction(int d) {
  bpf::Sockmap& map = *worker_.shared().sockmap;
  auto drained = map.drained(*sockpair_, sockmap_direction(d));
  if (!drained) {
    close(Outcome::reset, true, drained.error().message);
    return;
  }
  if (!*drained) {
    // Received bytes are still on their way to the peer (or passed and not
    // yet moved): step again later; the FIN must come after them.
    sockmap_recheck_later(d);
    return;
  }
  end_of_stream(d);
}

bool Connection::forwarded_in_kernel() {
  if (!sockpair_ || state_ != State::forwarding) return false;
  bpf::Sockmap& map = *worker_.shared().sockmap;
  std::uint64_t total = 0;
  for (int d : {0, 1})
    if (auto state = map.state(*sockpair_, sockmap_direction(d))) total += state->redirected;
  if (total == kernel_bytes_seen_) return false;
  kernel_bytes_seen_ = total;
  touch();
  return true;
}

void Connection::sockmap_release() {
  if (!sockpair_) return;
  for (Direction& dir : dirs_) {
    if (dir.recheck_timer != 0) worker_.timers().cancel(dir.recheck_timer);
    dir.recheck_timer = 0;
  }
  bpf::Sockmap& map = *worker_.shared().sockmap;
  // Byte counts for the access log, from the sk_msg counters: what left each
  // socket, minus what the proxy itself wrote before the insert.
  auto to_backend = map.egress_bytes(sockpair_->backend_fd);
  auto to_client = map.egress_bytes(sockpair_->client_fd);
  if (to_backend) dirs_[0].bytes = *to_backend;
  if (to_client) dirs_[1].bytes = *to_client;
  map.remove(*sockpair_);
  sockpair_.reset();
}

}  // namespace sniproxy::proxy
