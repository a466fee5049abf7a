#include "proxy/forward/sockmap_forwarder.hpp"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "common/socket_error.hpp"

namespace sniproxy::proxy::forward {

namespace {
constexpr std::chrono::milliseconds kFirstRecheck{1};
// After the end of stream, while the kernel still has the direction's last
// redirected bytes to send (its kworker runs the peer's psock queue), the
// first looks come this soon, doubling up to kFirstRecheck: typically the
// queue is flushed within tens of microseconds, and a FIN held back for a
// millisecond timer made short connections wait for it.
constexpr std::chrono::microseconds kFirstEofRecheck{25};
constexpr std::chrono::milliseconds kMaxRecheck{100};
constexpr std::size_t kPassedChunk = std::size_t{64} * 1024;
constexpr int kRunsPerStep = 4;

// What a zero-timeout poll shows on `fd` now (nothing if the poll fails).
short poll_source(int fd) {
  pollfd source{fd, POLLIN | POLLRDHUP, 0};
  (void)::poll(&source, 1, 0);
  return source.revents;
}

}  // namespace

SockmapForwarder::SockmapForwarder(Host& host, std::shared_ptr<SockmapSession> session,
                                   bpf::Direction direction, int from, int to,
                                   std::uint64_t queue_cap, std::uint64_t already_seen)
    : host_(host),
      session_(std::move(session)),
      direction_(direction),
      from_(from),
      to_(to),
      queue_cap_(queue_cap),
      eof_delay_(kFirstEofRecheck),
      kernel_seen_(already_seen) {}

SockmapForwarder::~SockmapForwarder() {
  cancel_timer();
}

void SockmapForwarder::start() {
  last_look_ = reactor::Clock::now();
  look_later(look_delay_);
  wait();
}

void SockmapForwarder::wait() {
  if (poll_armed_) return;
  poll_armed_ = true;
  host_.reactor().poll(from_, ends_only_ ? POLLRDHUP : POLLIN | POLLRDHUP,
                       host_.begin(Side::source));
}

void SockmapForwarder::on_complete(Side side, const reactor::Event& event) {
  if (side == Side::source && eof_timer_) {
    // The short wait for the kernel's queue after the end (-ETIME).
    eof_timer_ = false;
    if (!host_.closing() && !stopped_) step(false);
    return;
  }
  if (side == Side::source)
    poll_armed_ = false;
  else
    peer_full_ = false;
  if (host_.closing() || stopped_) return;
  if (event.res < 0) {
    host_.failed(side == Side::source, event.res);
    return;
  }
  if (side == Side::peer) {
    step(false);
    return;
  }
  // What an ends-only poll reports is what the socket shows: the wake-ups
  // it does not filter out (the FIN's state change, errors) poll the socket
  // before they complete. A POLLIN poll's may be a stale mask (wait()).
  step(true, ends_only_ ? std::optional<short>(static_cast<short>(event.res)) : std::nullopt);
}

void SockmapForwarder::recheck_later() {
  const auto delay = wait_delay_;
  wait_delay_ = std::min(wait_delay_ * 2, kMaxRecheck);
  look_later(delay);
}

void SockmapForwarder::look_later(std::chrono::microseconds delay) {
  const auto due = reactor::Clock::now() + delay;
  // One timer: a sooner look replaces a later one (a wait for the kernel's
  // queue must not sit behind an idle look a second away).
  if (timer_ != 0) {
    if (timer_due_ <= due) return;
    host_.timers().cancel(timer_);
  }
  timer_due_ = due;
  timer_ = host_.timers().schedule(due, [this] {
    timer_ = 0;
    if (!host_.closing() && !stopped_) step(false);
  });
}

void SockmapForwarder::cancel_timer() {
  if (timer_ == 0) return;
  host_.timers().cancel(timer_);
  timer_ = 0;
}

void SockmapForwarder::step(bool woken, std::optional<short> seen) {
  if (eof_ || peer_full_) return;  // finished, or waiting for room in the peer
  const short revents = seen ? *seen : poll_source(from_);
  if (source_failed(revents)) return;
  Look look;
  look.at_eof = (revents & (POLLRDHUP | POLLHUP)) != 0;
  look.fin = (revents & POLLRDHUP) != 0;
  if (!read_counters(look) || untrimmed_overlap(look.counts.state)) return;
  if (!move_passed_bytes(look)) return;  // waiting; resumes itself
  if (!slide_limit(look)) return;
  if (look.counts.state.passed > look.counts.control.consumed) {
    // Passed bytes still to move (waiting for the kernel's queue to flush,
    // or more than one step moves): soon again.
    recheck_later();
    return;
  }
  if (look.at_eof) {
    finish(look);
    return;
  }
  schedule_next_look(look);
  if (woken && !look.progressed && (revents & POLLIN) == 0) {
    // Woken by a redirected skb: the verdict's data_ready wakes the socket's
    // waiters with POLLIN although the bytes left for the peer (io_uring
    // reports the wake-up's mask without polling again). Watching POLLIN
    // would wake once per skb, so from now on the poll waits for the end of
    // stream and errors only, which keeps the FIN as prompt as the data;
    // the looks above (sooner than the limit can be reached) find passed
    // bytes and an overlap that could not be cut.
    ends_only_ = true;
    wait();
  } else if (woken && !look.progressed) {
    // Readable but nothing to do (bytes the verdict has not judged yet,
    // say): a level-triggered poll would spin, so look again after a short
    // backoff. Not after the look's delay, which can be a second: the poll
    // is what sees EOF and resets.
    recheck_later();
  } else {
    wait();
  }
}

bool SockmapForwarder::source_failed(short revents) {
  // POLLHUP alone is no error: it also means both directions of the socket
  // are shut down (our SHUT_WR after the peer's FIN). A reset sets SO_ERROR.
  if ((revents & POLLERR) == 0) return false;
  const int err = take_socket_error(from_);
  if (err == 0) return false;
  host_.failed(true, -err);
  return true;
}

bool SockmapForwarder::read_counters(Look& look) {
  bpf::Sockmap& map = session_->map();
  if (look.at_eof) {
    // All of it, in order, for finish(): the source's received bytes, the
    // peer's stream, the slot (TCP_INFO of both sockets).
    auto counts = map.counts(session_->pair(), direction_, true);
    if (!counts) {
      host_.abort(counts.error().message);
      return false;
    }
    look.counts = *counts;
    look.forwarded_known = true;
    return true;
  }
  // Before the end only the slot, which is memory: slide_limit() reads the
  // peer's stream when the limit is due to move.
  auto state = map.state(session_->pair(), direction_);
  auto control = map.control(session_->pair(), direction_);
  if (!state || !control) {
    host_.abort((state ? control.error() : state.error()).message);
    return false;
  }
  look.counts.state = *state;
  look.counts.control = *control;
  look.forwarded_known = false;
  return true;
}

bool SockmapForwarder::untrimmed_overlap(const bpf::ForwardState& state) {
  if (state.untrimmed == 0) return false;
  host_.abort(
      fmt::format("sockmap: {} bytes of a retransmit that overlapped bytes already forwarded "
                  "could not be cut off; reset rather than send them twice",
                  state.untrimmed));
  return true;
}

bool SockmapForwarder::move_passed_bytes(Look& look) {
  // A bounded number of runs per step so one connection cannot hold the
  // reactor.
  for (int run = 0; run < kRunsPerStep && look.counts.state.passed > look.counts.control.consumed;
       ++run) {
    if (!move_passed_run(look.counts.state, look.counts.control)) return false;
    look.progressed = true;
    if (!read_counters(look)) return false;
  }
  // Moving bytes is progress: the next look comes soon, not after a backoff
  // that grew while the kernel's queue was flushing.
  if (look.progressed) wait_delay_ = kFirstRecheck;
  return true;
}

// The verdict may queue up to cap bytes for the peer beyond what its psock
// queue holds now. Raised while bytes flow, the limit is reached only when
// the peer stops taking them (the bound); raised while over, it hands the
// direction back to the kernel.
bool SockmapForwarder::slide_limit(Look& look) {
  // Due while over (raising it hands the direction back) or once less than
  // half the cap is left: the looks come before half the room is used, so
  // the verdict still never reaches a limit while the peer takes bytes, and
  // a short connection never reads the peer's stream for it.
  const bool due = look.counts.state.over ||
                   look.counts.state.redirected + queue_cap_ / 2 > look.counts.control.limit;
  if (!due) return true;
  if (!look.forwarded_known) {
    auto forwarded = bpf::Sockmap::forwarded_bytes(session_->pair(), direction_);
    if (!forwarded) {
      host_.abort(forwarded.error().message);
      return false;
    }
    look.counts.forwarded = *forwarded;
    look.forwarded_known = true;
  }
  // A stale count only moves the limit, never the order of bytes.
  const std::uint64_t unflushed = bpf::unflushed_bytes(
      look.counts.state.redirected, look.counts.control.consumed, look.counts.forwarded);
  const std::uint64_t limit =
      bpf::resume_limit(look.counts.state.redirected, queue_cap_, unflushed);
  if (limit <= look.counts.control.limit) return true;
  look.counts.control.limit = limit;
  if (auto set = session_->map().set_control(session_->pair(), direction_, look.counts.control);
      !set) {
    host_.abort(set.error().message);
    return false;
  }
  if (look.counts.state.over) look.progressed = true;
  return true;
}

void SockmapForwarder::schedule_next_look(const Look& look) {
  const auto now = reactor::Clock::now();
  const std::uint64_t moved = look.counts.state.redirected - redirected_seen_;
  if (moved != 0 || look.progressed) host_.active();
  // Before the bytes flowing now could use up half the room the limit
  // leaves, or later and later while nothing flows. Passed bytes, EOF and
  // errors wake the poll meanwhile.
  look_delay_ = bpf::next_look(
      look.counts.control.limit - look.counts.state.redirected, moved,
      std::chrono::duration_cast<std::chrono::microseconds>(now - last_look_), look_delay_);
  redirected_seen_ = look.counts.state.redirected;
  last_look_ = now;
  look_later(look_delay_);
}

bool SockmapForwarder::move_passed_run(const bpf::ForwardState& state,
                                       bpf::ForwardControl& control) {
  const auto readable = passed_readable();
  if (!readable) return false;
  const std::uint64_t pending = state.passed - control.consumed;
  const std::size_t want = static_cast<std::size_t>(
      std::min<std::uint64_t>({pending, static_cast<std::uint64_t>(*readable), held_bound()}));
  if (passed_size_ < want) {
    // Not zeroed: only what a peek wrote is ever sent.
    passed_ = std::make_unique_for_overwrite<std::uint8_t[]>(want);
    passed_size_ = want;
    held_peeked_ = 0;  // the new buffer holds nothing yet
  }
  // The whole run is peeked and sent while it stays on the source, charged
  // to its receive memory: the sender's window stays shut until every
  // passed byte is reported, so the next skb finds passed == consumed and
  // goes to the kernel (the run ends here, not when the sender slows down).
  // Nothing is taken off the source until the run ends, so what an earlier
  // step peeked (the peer was full) is still its head: peek again only for
  // more.
  if (held_peeked_ < want) {
    const auto peeked = peek_passed(want);
    if (!peeked) return false;
    if (*peeked < held_peeked_) {
      host_.abort(fmt::format("sockmap: {} passed bytes peeked, {} before", *peeked, held_peeked_));
      return false;
    }
    held_peeked_ = *peeked;
  }
  const auto sent = send_to_peer(held_sent_, held_peeked_);
  if (!sent) return false;
  held_sent_ += *sent;
  if (held_sent_ < held_peeked_) {
    // The peer is full: wait for room, the sender's window held shut.
    peer_full_ = true;
    host_.reactor().poll(to_, POLLOUT, host_.begin(Side::peer));
    return false;
  }
  if (held_sent_ < pending && held_sent_ < held_bound()) {
    // Passed skbs still in the source's psock backlog: they join this run.
    recheck_later();
    return false;
  }
  const std::size_t run = held_sent_;
  held_sent_ = 0;
  held_peeked_ = 0;
  if (!report_and_take(state, control, run)) return false;
  passed_bytes_ += run;
  // A run can take a quarter of the cap; many connections that once went
  // over must not keep that much each.
  passed_.reset();
  passed_size_ = 0;
  return true;
}

std::uint64_t SockmapForwarder::held_bound() const {
  // The source's receive memory bounds a run (its window closes), so this
  // caps only the buffer it takes: a run longer than the cap is moved in
  // cap-sized parts, each reported and taken as it goes.
  return std::max<std::uint64_t>(queue_cap_, kPassedChunk);
}

std::optional<std::size_t> SockmapForwarder::passed_readable() {
  // Bytes still queued in the kernel for the peer come first in its stream.
  auto unflushed = session_->map().unflushed(session_->pair(), direction_);
  if (!unflushed) {
    host_.abort(unflushed.error().message);
    return std::nullopt;
  }
  if (*unflushed != 0) {
    recheck_later();
    return std::nullopt;
  }
  // Only what already sits in the psock's queue of passed bytes (SIOCINQ
  // reports exactly that on a socket with a verdict). Passed skbs can still
  // wait in the psock backlog behind bytes redirected to this socket, and a
  // recv() that finds the psock queue empty may read the TCP receive queue
  // itself: bytes the verdict has not judged yet, out of order.
  int readable = 0;
  if (::ioctl(from_, SIOCINQ, &readable) != 0 || readable <= 0) {
    recheck_later();
    return std::nullopt;
  }
  return static_cast<std::size_t>(readable);
}

std::optional<std::size_t> SockmapForwarder::peek_passed(std::size_t want) {
  ssize_t peeked = 0;
  do {
    peeked = ::recv(from_, passed_.get(), want, MSG_PEEK | MSG_DONTWAIT);
  } while (peeked < 0 && errno == EINTR);
  // Passed bytes may still sit in the source's psock backlog (the verdict
  // queues them there behind earlier skbs) and not be readable yet; a FIN
  // already seen makes recv() say EOF meanwhile. Either way: look again.
  if (peeked == 0 || (peeked < 0 && errno == EAGAIN)) {
    recheck_later();
    return std::nullopt;
  }
  if (peeked < 0) {
    host_.failed(true, -errno);
    return std::nullopt;
  }
  return static_cast<std::size_t>(peeked);
}

std::optional<std::size_t> SockmapForwarder::send_to_peer(std::size_t from, std::size_t to) {
  std::size_t sent = 0;
  while (from + sent < to) {
    const ssize_t n =
        ::send(to_, passed_.get() + from + sent, to - from - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      host_.failed(false, -errno);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

bool SockmapForwarder::report_and_take(const bpf::ForwardState& state, bpf::ForwardControl& control,
                                       std::size_t sent) {
  control.consumed += sent;
  // The last part of a run also raises the limit, in the same write: the
  // recv() below may reopen the sender's window, and its next skb must find
  // room to go to the kernel. The redirected run before these bytes has left
  // the psock queue (passed_readable()) and the verdict redirects nothing
  // while passed bytes are unreported, so the whole cap is free.
  if (control.consumed == state.passed)
    control.limit = std::max(control.limit, bpf::resume_limit(state.redirected, queue_cap_, 0));
  if (auto set = session_->map().set_control(session_->pair(), direction_, control); !set) {
    host_.abort(set.error().message);
    return false;
  }
  // Taken in chunks: each recv() that frees room sends the sender a window
  // update, while one recv() of a whole run that had closed the window left
  // the sender waiting for a delayed ACK or its persist timer (40 to 300 ms
  // a run on loopback; SockmapWindowTest measures it).
  std::size_t taken = 0;
  while (taken < sent) {
    const ssize_t n =
        ::recv(from_, passed_.get(), std::min(sent - taken, kPassedChunk), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    taken += static_cast<std::size_t>(n);
  }
  if (taken != sent) {
    // The bytes just peeked are at the head of the psock queue; anything
    // else means the stream is no longer what was sent.
    host_.abort(fmt::format("sockmap: took {} of {} passed bytes just sent", taken, sent));
    return false;
  }
  return true;
}

void SockmapForwarder::finish(const Look& look) {
  // POLLRDHUP was polled before these counts were read, so a FIN among
  // them is the one the poll saw (or a later one reads as "not yet").
  const bool drained = bpf::all_forwarded(look.counts.state, look.counts.control,
                                          look.counts.forwarded, look.counts.received, look.fin);
  if (!drained) {
    // Received bytes are still on their way to the peer (or passed and not
    // yet moved): step again later; the FIN must come after them. The
    // source's slot is free at the end (no poll is armed once it is seen),
    // so the first waits are the reactor's own timeouts, which keep their
    // microseconds (the worker's timers round up to milliseconds).
    if (eof_timer_) return;  // a short wait is under way: it looks again
    if (eof_delay_ < kFirstRecheck && !poll_armed_) {
      eof_timer_ = true;
      host_.reactor().timeout(eof_delay_, host_.begin(Side::source));
      eof_delay_ *= 2;
      return;
    }
    recheck_later();
    return;
  }
  // Every byte of the direction is in the peer's stream and none can
  // follow: its count for the access log, without reading it again at stop().
  final_bytes_ = look.counts.forwarded;
  eof_ = true;
  host_.end_of_stream();
}

bool SockmapForwarder::moved_unseen() {
  if (stopped_) return false;
  auto state = session_->map().state(session_->pair(), direction_);
  if (!state || state->redirected == kernel_seen_) return false;
  kernel_seen_ = state->redirected;
  return true;
}

std::uint64_t SockmapForwarder::bytes_moved() const {
  return final_bytes_;
}

void SockmapForwarder::stop() {
  if (stopped_) return;
  stopped_ = true;
  cancel_timer();
  bpf::Sockmap& map = session_->map();
  // Bytes for the access log, from TCP's counters: what entered the peer's
  // stream since the insert (not what the proxy wrote before it). A
  // direction that reached its end counted them then (finish()); one
  // stopped before never shut its peer down, so no FIN of ours is in them.
  if (!eof_) {
    if (auto forwarded = bpf::Sockmap::forwarded_bytes(session_->pair(), direction_, false))
      final_bytes_ = *forwarded;
  }
  observe::SockmapMetrics& counted = session_->counted();
  if (auto state = map.state(session_->pair(), direction_)) {
    observe::bump(counted.kernel_bytes, state->redirected);
    observe::bump(counted.userspace_bytes, passed_bytes_);
    observe::bump(counted.trimmed_bytes, state->trimmed);
  }
  session_.reset();  // the last direction out removes the pair
}

}  // namespace sniproxy::proxy::forward
