#include "proxy/worker.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/listen_socket.hpp"
#include "common/log.hpp"
#include "proxy/connection.hpp"

namespace sniproxy::proxy {

namespace {
using namespace std::chrono_literals;
constexpr unsigned kRingEntries = 4096;
constexpr std::uint16_t kBufferGroup = 1;
constexpr auto kMaxWait = 1000ms;
constexpr auto kIdleSweepEvery = 250ms;
constexpr auto kAcceptBackoffMin = 10ms;
constexpr auto kAcceptBackoffMax = 1000ms;
}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, SharedState& shared) {
  std::unique_ptr<Worker> w(new Worker(index, shared));
  auto rt = shared.runtime.load();
  const auto& cfg = rt->config;
  auto ring = reactor::Ring::create(kRingEntries);
  if (!ring) return ring.error();
  w->ring_ = std::move(ring).value();
  auto buffers = reactor::BufferRing::create(
      *w->ring_, kBufferGroup, cfg.forwarding.buffers_per_worker, cfg.forwarding.buffer_size);
  if (!buffers) return buffers.error();
  w->buffers_ = std::move(buffers).value();
  w->pipes_ = std::make_unique<PipePool>(cfg.forwarding.pipe_size, cfg.forwarding.pipes_per_worker);
  auto resolver = dns::Resolver::create(cfg.dns, *w);
  if (!resolver) return make_error("dns: " + resolver.error().message);
  w->resolver_ = std::move(resolver).value();
  if (shared.dns_cache_observer) w->resolver_->set_cache_observer(shared.dns_cache_observer(index));
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    auto fd = open_listen_socket(cfg.listeners[i].address);
    if (!fd)
      return make_error(fmt::format("listener {}: {}", cfg.listeners[i].name, fd.error().message));
    auto slot = std::make_unique<ListenerSlot>();
    slot->worker = w.get();
    slot->index = i;
    slot->fd = std::move(fd).value();
    w->listeners_.push_back(std::move(slot));
  }
  w->wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->wake_fd_) return make_error(fmt::format("eventfd: {}", std::strerror(errno)));
  w->wake_op_.worker = w.get();
  return w;
}

Worker::Worker(unsigned index, SharedState& shared) : index_(index), shared_(shared) {}

Worker::~Worker() {
  // Connections first: they hand buffers back to the ring they came from.
  connections_.clear();
  // The resolver un-watches its sockets as it closes them: while the watch
  // table and the ring still exist.
  resolver_.reset();
}

void Worker::stop() {
  std::uint64_t one = 1;
  // An eventfd write fails only when the counter would overflow, and then
  // the worker is woken already. (A (void) cast does not silence
  // warn_unused_result under _FORTIFY_SOURCE.)
  if (::write(wake_fd_.get(), &one, sizeof one) < 0) return;
}

void Worker::arm_wake() {
  io_uring_sqe* s = ring_->sqe(&wake_op_);
  io_uring_prep_read(s, wake_fd_.get(), &wake_op_.value, sizeof wake_op_.value, 0);
}

void Worker::WakeOp::on_complete(int, unsigned) {
  if (worker->shared_.stopping.load()) {
    worker->begin_drain();
    return;
  }
  worker->arm_wake();
}

void Worker::run() {
  arm_wake();
  const auto rt = shared_.runtime.load();
  for (auto& slot : listeners_) {
    arm_accept(*slot);
    log::info("listening", "worker={} listener={} address={}", index_,
              log::quote(rt->config.listeners[slot->index].name),
              rt->config.listeners[slot->index].address.to_string());
  }
  if (admin_) admin_->start(*ring_, timers_);
  auto next_sweep = reactor::Clock::now() + kIdleSweepEvery;
  for (;;) {
    auto now = reactor::Clock::now();
    const auto until_sweep = std::chrono::ceil<std::chrono::milliseconds>(next_sweep - now);
    ring_->run_once(
        timers_.wait_time(now, std::clamp<std::chrono::milliseconds>(until_sweep, 0ms, kMaxWait)));
    now = reactor::Clock::now();
    timers_.fire_due(now);
    if (now >= next_sweep) {
      sweep_idle();
      next_sweep = now + kIdleSweepEvery;
    }
    resume_buffer_waiters();
    resume_pipe_waiters();
    for (Connection* c : reap_) {
      c->finish();
      connections_.erase(c->id());
    }
    reap_.clear();
    if (draining_) {
      if (connections_.empty() && (!admin_ || admin_->quiet())) break;
      if (now >= drain_deadline_) {
        for (auto& [id, c] : connections_)
          c->close(observe::Outcome::shutdown, false, "drain ended");
        drain_deadline_ = reactor::Clock::time_point::max();
      }
    }
  }
}

// --- accepting ---------------------------------------------------------------

void ListenerSlot::on_complete(int res, unsigned flags) {
  worker->on_accept(*this, res, flags);
}

void Worker::arm_accept(ListenerSlot& slot) {
  io_uring_sqe* s = ring_->sqe(&slot);
  io_uring_prep_multishot_accept(s, slot.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  slot.armed = true;
}

void Worker::on_accept(ListenerSlot& slot, int res, unsigned flags) {
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (!more) slot.armed = false;
  if (res >= 0) {
    slot.backoff = 0ms;
    if (fd_exhaustion_logged_) {
      log::info("accept_resumed", "worker={}", index_);
      fd_exhaustion_logged_ = false;
    }
    accept_connection(slot, res);
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
    // Out of descriptors or memory: stop accepting for a while instead of
    // spinning on an accept that fails at once. Clients wait in the backlog.
    if (slot.paused) return;
    slot.paused = true;
    observe::bump(shared_.metrics.accept_pauses);
    slot.backoff = std::clamp(slot.backoff * 2, kAcceptBackoffMin, kAcceptBackoffMax);
    if (!fd_exhaustion_logged_) {
      log::warn("accept_paused", "worker={} error={} backoff_ms={}", index_,
                log::quote(std::strerror(-res)), slot.backoff.count());
      fd_exhaustion_logged_ = true;
    }
    if (more) {
      io_uring_sqe* s = ring_->sqe_ignored();
      io_uring_prep_cancel(s, &slot, 0);
    }
    timers_.schedule(reactor::Clock::now() + slot.backoff, [this, &slot] {
      slot.paused = false;
      if (!slot.armed && !draining_) arm_accept(slot);
    });
    return;
  } else if (res != -ECANCELED && res != -EINVAL) {
    log::warn("accept_failed", "worker={} error={}", index_, log::quote(std::strerror(-res)));
  }
  if (slot.armed) return;
  if (slot.closing) {
    slot.fd.reset();
  } else if (!slot.paused && !draining_) {
    arm_accept(slot);
  }
}

void Worker::accept_connection(ListenerSlot& slot, int raw_fd) {
  UniqueFd fd(raw_fd);
  if (draining_) return;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) return;
  auto client = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&peer));
  if (!client) return;
  auto rt = shared_.runtime.load();
  observe::bump(shared_.metrics.listener(slot.index).accepted);
  const auto& limits = rt->config.limits;
  const auto admit =
      shared_.limits.admit(client->ip, limits.max_connections, limits.max_connections_per_source);
  if (admit != ConnectionLimits::Admit::yes) {
    observe::AccessRecord r;
    r.client = client->to_string();
    r.listener = rt->config.listeners[slot.index].name;
    r.outcome = observe::Outcome::limit;
    r.detail = admit == ConnectionLimits::Admit::over_total ? "max_connections"
                                                            : "max_connections_per_source";
    linger l{1, 0};  // refuse with RST: cheapest for us, clear for the client
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    observe::bump(shared_.metrics.listener(slot.index)
                      .closed[static_cast<std::size_t>(observe::Outcome::limit)]);
    rt->access_log->write(r);
    return;
  }
  const std::uint64_t id = next_id_++;
  auto conn =
      std::make_unique<Connection>(*this, id, std::move(rt), slot.index, std::move(fd), *client);
  Connection* c = conn.get();
  connections_.emplace(id, std::move(conn));
  c->start();
}

void Worker::begin_drain() {
  if (draining_) return;
  draining_ = true;
  if (admin_) admin_->stop();
  drain_deadline_ = reactor::Clock::now() + shared_.runtime.load()->config.timeouts.shutdown;
  for (auto& slot : listeners_) {
    slot->closing = true;
    // Stop listening now, so new clients are refused rather than queued;
    // the accept completes with an error and the fd is closed then.
    ::shutdown(slot->fd.get(), SHUT_RDWR);
    if (slot->armed) {
      io_uring_sqe* s = ring_->sqe_ignored();
      // (fd closed when the cancelled accept completes)
      io_uring_prep_cancel(s, slot.get(), 0);
    } else {
      slot->fd.reset();
    }
  }
  log::info("draining", "worker={} connections={}", index_, connections_.size());
}

// --- connections ---------------------------------------------------------------

Connection* Worker::find(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second->closing()) return nullptr;
  return it->second.get();
}

void Worker::reap(Connection* c) {
  if (c->reaped) return;
  c->reaped = true;
  reap_.push_back(c);
}

void Worker::wait_for_buffer(std::uint64_t id, int direction) {
  buffer_waiters_.emplace_back(id, direction);
}

void Worker::resume_buffer_waiters() {
  while (!buffer_waiters_.empty() && buffers_->available() > 0) {
    auto [id, direction] = buffer_waiters_.front();
    buffer_waiters_.pop_front();
    if (Connection* c = find(id)) c->resume_receive(direction);
  }
}

void Worker::wait_for_pipe(std::uint64_t id, int direction) {
  pipe_waiters_.emplace_back(id, direction);
}

void Worker::resume_pipe_waiters() {
  while (!pipe_waiters_.empty() && !pipes_->exhausted()) {
    auto [id, direction] = pipe_waiters_.front();
    pipe_waiters_.pop_front();
    if (Connection* c = find(id)) c->resume_splice(direction);
  }
}

void Worker::touch(Connection* c) {
  if (c->in_idle_list) {
    if (idle_tail_ == c) return;
    forget_idle(c);
  }
  c->in_idle_list = true;
  c->idle_prev = idle_tail_;
  c->idle_next = nullptr;
  if (idle_tail_ != nullptr) idle_tail_->idle_next = c;
  idle_tail_ = c;
  if (idle_head_ == nullptr) idle_head_ = c;
}

void Worker::forget_idle(Connection* c) {
  if (!c->in_idle_list) return;
  if (c->idle_prev != nullptr)
    c->idle_prev->idle_next = c->idle_next;
  else
    idle_head_ = c->idle_next;
  if (c->idle_next != nullptr)
    c->idle_next->idle_prev = c->idle_prev;
  else
    idle_tail_ = c->idle_prev;
  c->idle_prev = c->idle_next = nullptr;
  c->in_idle_list = false;
}

void Worker::sweep_idle() {
  const auto now = reactor::Clock::now();
  const auto limit = shared_.runtime.load()->config.timeouts.idle;
  while (idle_head_ != nullptr) {
    Connection* c = idle_head_;
    if (c->last_active() + limit > now) break;
    if (c->forwarded_in_kernel()) continue;  // touched: now at the tail
    c->close(observe::Outcome::idle_timeout, false, "no data either way");  // unlinks c
  }
}

// --- DNS driver ---------------------------------------------------------------

void Worker::watch(int fd, bool readable, bool writable) {
  auto it = dns_watches_.find(fd);
  if (it != dns_watches_.end()) {
    // Retire the old watch; its poll is removed and its CQE frees it.
    DnsWatch* old = it->second.get();
    if (old->in_flight) {
      old->live = false;
      io_uring_sqe* s = ring_->sqe_ignored();
      io_uring_prep_poll_remove(s, reinterpret_cast<__u64>(old));
      dns_retired_.push_back(std::move(it->second));
    }
    dns_watches_.erase(it);
  }
  if (!readable && !writable) return;
  auto w = std::make_unique<DnsWatch>();
  w->worker = this;
  w->fd = fd;
  w->events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
  DnsWatch* raw = w.get();
  dns_watches_.emplace(fd, std::move(w));
  arm_dns_watch(raw);
}

void Worker::arm_dns_watch(DnsWatch* w) {
  io_uring_sqe* s = ring_->sqe(w);
  io_uring_prep_poll_add(s, w->fd, w->events);
  w->in_flight = true;
}

void Worker::DnsWatch::on_complete(int res, unsigned) {
  Worker* wk = worker;
  in_flight = false;
  if (!live) {
    std::erase_if(wk->dns_retired_, [this](const auto& p) { return p.get() == this; });
    return;  // `this` is gone
  }
  if (res < 0) {
    if (res == -ECANCELED) return;
    res = POLLERR;
  }
  const int fd_copy = fd;
  // The resolver may re-watch or un-watch this fd from inside the call.
  wk->resolver_->on_fd_ready(fd_copy, (res & (POLLIN | POLLERR | POLLHUP)) != 0,
                             (res & POLLOUT) != 0);
  auto it = wk->dns_watches_.find(fd_copy);
  if (it != wk->dns_watches_.end() && it->second.get() == this) wk->arm_dns_watch(this);
}

void Worker::arm_timer(std::chrono::milliseconds delay) {
  if (dns_timer_ != 0) timers_.cancel(dns_timer_);
  dns_timer_ = timers_.schedule(reactor::Clock::now() + delay, [this] {
    dns_timer_ = 0;
    resolver_->on_timer();
  });
}

}  // namespace sniproxy::proxy
