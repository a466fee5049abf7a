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
//    (the duties in src/bpf/sockmap/sockmap_flow.hpp);
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

#include "bpf/sockmap/socket_info.hpp"
#include "bpf/sockmap/sockmap.hpp"
#include "bpf/sockmap/sockmap_flow.hpp"
#include "common/log.hpp"
#include "observe/metrics.hpp"
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
    // Not loaded at start-up (logged once then, event=sockmap_unavailable):
    // counted, but not a line per connection.
    observe::bump(worker_.shared().metrics.sockmap.fallbacks);
    sockmap_fell_back_ = true;
    start_splice();
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
  observe::bump(worker_.shared().metrics.sockmap.open);
  // The kernel forwards the peeked hello itself; that is not activity after
  // the start (the idle sweep compares against this).
  kernel_bytes_seen_ = hello_.size();
  std::vector<std::uint8_t>().swap(hello_);
  for (int d : {0, 1}) {
    dirs_[d].sockmap_last_look = reactor::Clock::now();
    sockmap_look_later(d, dirs_[d].look_delay);
    sockmap_wait(d);
  }
}

void Connection::sockmap_fallback(const std::string& reason) {
  observe::Counter& fallbacks = worker_.shared().metrics.sockmap.fallbacks;
  observe::bump(fallbacks);
  const auto total = observe::read(fallbacks);
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
  const auto delay = dir.wait_delay;
  dir.wait_delay = std::min(dir.wait_delay * 2, kMaxRecheck);
  sockmap_look_later(d, delay);
}

void Connection::sockmap_look_later(int d, std::chrono::microseconds delay) {
  Direction& dir = dirs_[d];
  const auto due = reactor::Clock::now() + delay;
  // One timer per direction: a sooner look replaces a later one (a wait
  // for the kernel's queue must not sit behind an idle look a second away).
  if (dir.recheck_timer != 0) {
    if (dir.recheck_due <= due) return;
    worker_.timers().cancel(dir.recheck_timer);
  }
  Worker* worker = &worker_;
  const std::uint64_t id = id_;
  dir.recheck_due = due;
  dir.recheck_timer = worker_.timers().schedule(due, [worker, id, d] {
    if (Connection* c = worker->find(id)) c->sockmap_recheck(d);
  });
}

void Connection::sockmap_recheck(int d) {
  dirs_[d].recheck_timer = 0;
  if (state_ != State::closing) sockmap_step(d, false);
}

void Connection::sockmap_step(int d, bool woken) {
  Direction& dir = dirs_[d];
  if (dir.eof || dir.peer_full) return;  // finished, or waiting for room in the peer
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
    close(observe::Outcome::reset, true, (state ? control.error() : state.error()).message);
    return;
  }
  if (state->untrimmed != 0) {
    close(observe::Outcome::reset, true,
          fmt::format("sockmap: {} bytes of a retransmit that overlapped bytes already forwarded "
                      "could not be cut off; reset rather than send them twice",
                      state->untrimmed));
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
      close(observe::Outcome::reset, true, (state ? control.error() : state.error()).message);
      return;
    }
  }
  // Moving bytes is progress: the next look comes soon, not after a backoff
  // that grew while the kernel's queue was flushing.
  if (progressed) dir.wait_delay = kFirstRecheck;
  // Slide the limit: the verdict may queue up to cap bytes for the peer
  // beyond what its psock queue holds now. Raised while bytes flow, it is
  // reached only when the peer stops taking them (the bound); raised while
  // over, it hands the direction back to the kernel.
  // From the counters just read, not Sockmap::unflushed() (which reads them
  // again): a stale count only moves the limit, never the order of bytes.
  auto forwarded = map.forwarded_bytes(*sockpair_, direction);
  if (!forwarded) {
    close(observe::Outcome::reset, true, forwarded.error().message);
    return;
  }
  const std::uint64_t unflushed =
      bpf::unflushed_bytes(state->redirected, control->consumed, *forwarded);
  const std::uint64_t cap = runtime_->config.forwarding.sockmap_queue_cap;
  const std::uint64_t limit = bpf::resume_limit(state->redirected, cap, unflushed);
  if (limit > control->limit) {
    control->limit = limit;
    if (auto set = map.set_control(*sockpair_, direction, *control); !set) {
      close(observe::Outcome::reset, true, set.error().message);
      return;
    }
    if (state->over) progressed = true;
  }
  if (state->passed > control->consumed) {
    // Passed bytes still to move (waiting for the kernel's queue to flush,
    // or more than one step moves): soon again.
    sockmap_recheck_later(d);
    return;
  }
  if (at_eof) {
    sockmap_finish_direction(d);
    return;
  }
  const auto now = reactor::Clock::now();
  const std::uint64_t moved = state->redirected - dir.sockmap_redirected_seen;
  if (moved != 0 || progressed) touch();
  // The next look: before the bytes flowing now could use up half the room
  // the limit leaves, or later and later while nothing flows. Passed bytes,
  // EOF and errors wake the poll meanwhile.
  dir.look_delay = bpf::next_look(
      control->limit - state->redirected, moved,
      std::chrono::duration_cast<std::chrono::microseconds>(now - dir.sockmap_last_look),
      dir.look_delay);
  dir.sockmap_redirected_seen = state->redirected;
  dir.sockmap_last_look = now;
  sockmap_look_later(d, dir.look_delay);
  // A wake-up that found nothing to do (bytes the verdict had not yet judged,
  // say) polls again only after a short backoff: a level-triggered poll on
  // such a socket would otherwise spin. Not after the look's delay, which
  // can be a second: the poll is what sees EOF and resets.
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
    close(observe::Outcome::reset, true, unflushed.error().message);
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
  // Peek, send, report, and only then take the bytes off the source. The
  // report must come before the recv(): the recv() frees receive memory and
  // may reopen the sender's window, and the verdict hands the direction back
  // to the kernel only if, when the next skb arrives, every passed byte is
  // already reported as sent (passed == consumed). Reported first, the last
  // chunk of a stalled sender ends the userspace run; reported after, a
  // sender as fast as this loop would keep the direction here for good.
  ssize_t peeked = 0;
  do {
    peeked = ::recv(dir.from, dir.passed.data(), want, MSG_PEEK | MSG_DONTWAIT);
  } while (peeked < 0 && errno == EINTR);
  // Passed bytes may still sit in the source's psock backlog (the verdict
  // queues them there behind earlier skbs) and not be readable yet; a FIN
  // already seen makes recv() say EOF meanwhile. Either way: look again.
  if (peeked == 0 || (peeked < 0 && errno == EAGAIN)) {
    sockmap_recheck_later(d);
    return false;
  }
  if (peeked < 0) {
    direction_failed(d, true, -errno);
    return false;
  }
  std::size_t sent = 0;
  while (sent < static_cast<std::size_t>(peeked)) {
    const ssize_t n = ::send(dir.to, dir.passed.data() + sent,
                             static_cast<std::size_t>(peeked) - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      direction_failed(d, false, -errno);
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  if (sent == 0) {
    // The peer is full: wait for room; the bytes stay on the source.
    dir.peer_full = true;
    dir.send_op.handler = &Connection::on_sockmap_writable;
    io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
    io_uring_prep_poll_add(s, dir.to, POLLOUT);
    ++pending_;
    return false;
  }
  control.consumed += sent;
  if (auto set = map.set_control(*sockpair_, direction, control); !set) {
    close(observe::Outcome::reset, true, set.error().message);
    return false;
  }
  ssize_t taken = 0;
  do {
    taken = ::recv(dir.from, dir.passed.data(), sent, MSG_DONTWAIT);
  } while (taken < 0 && errno == EINTR);
  if (taken != static_cast<ssize_t>(sent)) {
    // The bytes just peeked are at the head of the psock queue; anything
    // else means the stream is no longer what was sent.
    close(observe::Outcome::reset, true,
          fmt::format("sockmap: took {} of {} passed bytes just sent", taken, sent));
    return false;
  }
  dir.sockmap_passed_bytes += sent;
  return true;
}

void Connection::on_sockmap_writable(int d, int res, unsigned) {
  dirs_[d].peer_full = false;
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, false, res);
    return;
  }
  sockmap_step(d, false);
}

void Connection::sockmap_finish_direction(int d) {
  bpf::Sockmap& map = *worker_.shared().sockmap;
  auto drained = map.drained(*sockpair_, sockmap_direction(d));
  if (!drained) {
    close(observe::Outcome::reset, true, drained.error().message);
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
  // Byte counts for the access log, from TCP's counters: what entered each
  // peer's stream since the insert (not what the proxy wrote before it).
  // A direction at its end shut its peer down (end_of_stream): that FIN is
  // in the peer's counters even once the socket is CLOSED.
  auto to_backend =
      map.forwarded_bytes(*sockpair_, bpf::Direction::client_to_backend, dirs_[0].eof);
  auto to_client = map.forwarded_bytes(*sockpair_, bpf::Direction::backend_to_client, dirs_[1].eof);
  if (to_backend) dirs_[0].bytes = *to_backend;
  if (to_client) dirs_[1].bytes = *to_client;
  observe::SockmapMetrics& counted = worker_.shared().metrics.sockmap;
  for (int d : {0, 1}) {
    if (auto state = map.state(*sockpair_, sockmap_direction(d))) {
      observe::bump(counted.kernel_bytes, state->redirected);
      observe::bump(counted.userspace_bytes, dirs_[d].sockmap_passed_bytes);
      observe::bump(counted.trimmed_bytes, state->trimmed);
    }
  }
  map.remove(*sockpair_);
  sockpair_.reset();
  counted.open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace sniproxy::proxy
