#include "proxy/worker.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fast_open.hpp"
#include "common/listen_socket.hpp"
#include "common/log.hpp"
#include "config/prefix.hpp"
#include "proxy/connection.hpp"
#include "proxy/ending.hpp"
#include "proxy/passed_share.hpp"
#include "reactor/backend.hpp"

namespace sniproxy::proxy {

namespace {
using namespace std::chrono_literals;
constexpr unsigned kRingEntries = 4096;
constexpr auto kMaxWait = 1000ms;
constexpr auto kIdleSweepEvery = 250ms;
constexpr auto kAcceptBackoffMin = 10ms;
constexpr auto kAcceptBackoffMax = 1000ms;
// Clients taken from a passed socket's queue when this worker stops
// accepting from it (bounded: the next generation takes the rest).
constexpr int kMaxTakenAtClose = 1024;
}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, SharedState& shared) {
  std::unique_ptr<Worker> w(new Worker(index, shared));
  auto rt = shared.runtime.load();
  const auto& cfg = rt->config;
  reactor::ReactorOptions options;
  options.backend = shared.reactor_backend;
  options.entries = kRingEntries;
  options.buffer_count = cfg.forwarding.buffers_per_worker;
  options.buffer_size = cfg.forwarding.buffer_size;
  auto created = reactor::create_reactor(options);
  if (!created && shared.reactor_may_fall_back &&
      options.backend == reactor::BackendKind::io_uring) {
    // The probe's small ring worked but this one did not (a memlock limit,
    // say): auto runs this worker on epoll, as it would the whole process.
    log::warn("reactor_fallback", "worker={} backend=epoll reason={}", index,
              log::quote(created.error().message));
    options.backend = reactor::BackendKind::epoll;
    created = reactor::create_reactor(options);
  }
  if (!created) return created.error();
  w->reactor_ = std::move(created).value();
  w->spares_ = std::make_unique<SpareConnections>(*w->reactor_, w->timers_, shared.metrics);
  w->pipes_ = std::make_unique<PipePool>(cfg.forwarding.pipe_size, cfg.forwarding.pipes_per_worker);
  auto resolver = dns::Resolver::create(cfg.dns, *w);
  if (!resolver) return make_error("dns: " + resolver.error().message);
  w->resolver_ = std::move(resolver).value();
  if (shared.dns_cache_observer) w->resolver_->set_cache_observer(shared.dns_cache_observer(index));
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    if (cfg.listeners[i].protocol == config::Protocol::quic) continue;  // QuicService's
    const std::vector<UniqueFd> none;
    const auto& passed = i < shared.passed_listeners.size() ? shared.passed_listeners[i] : none;
    std::vector<UniqueFd> fds;
    for (int fd : passed_share(passed, index, shared.worker_count)) {
      // Each worker accepts through its own descriptor of a passed socket,
      // closed on its own; the socket stays with whoever passed it.
      fds.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
      if (!fds.back())
        return make_error(fmt::format("listener {}: duplicating a passed socket: {}",
                                      cfg.listeners[i].name, std::strerror(errno)));
    }
    const bool was_passed = !fds.empty();
    if (!was_passed) {
      auto fd = open_listen_socket(cfg.listeners[i].address, 4096, cfg.listeners[i].v6only);
      if (!fd)
        return make_error(
            fmt::format("listener {}: {}", cfg.listeners[i].name, fd.error().message));
      fds.push_back(std::move(fd).value());
    }
    for (UniqueFd& fd : fds) {
      auto slot = std::make_unique<ListenerSlot>();
      slot->worker = w.get();
      slot->index = i;
      slot->fd = std::move(fd);
      slot->passed = was_passed;
      if (const unsigned queue = cfg.listeners[i].fast_open_queue; queue > 0) {
        // A passed socket gets it too: the option works after listen().
        if (auto set = set_fast_open_queue(slot->fd.get(), queue); !set)
          return make_error(
              fmt::format("listener {}: {}", cfg.listeners[i].name, set.error().message));
      }
      w->listeners_.push_back(std::move(slot));
    }
  }
  // Null when this worker serves no quic listener (see quic_service.hpp).
  auto quic = quic::QuicService::create(*w);
  if (!quic) return quic.error();
  w->quic_ = std::move(quic).value();
  w->wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->wake_fd_) return make_error(fmt::format("eventfd: {}", std::strerror(errno)));
  w->wake_op_.worker = w.get();
  return w;
}

Worker::Worker(unsigned index, SharedState& shared) : index_(index), shared_(shared) {}

Worker::~Worker() {
  quic_.reset();
  // Connections first: they hand buffers back to the ring they came from.
  connections_.clear();
  // The resolver un-watches its sockets as it closes them: while the watch
  // table and the ring still exist.
  resolver_.reset();
}

void Worker::stop() {
  wake();
}

void Worker::wake() {
  std::uint64_t one = 1;
  // An eventfd write fails only when the counter would overflow, and then
  // the worker is woken already. (A (void) cast does not silence
  // warn_unused_result under _FORTIFY_SOURCE.)
  if (::write(wake_fd_.get(), &one, sizeof one) < 0) return;
}

void Worker::arm_wake() {
  reactor_->read(wake_fd_.get(),
                 {reinterpret_cast<std::uint8_t*>(&wake_op_.value), sizeof wake_op_.value},
                 &wake_op_);
}

void Worker::WakeOp::on_complete(const reactor::Event&) {
  if (worker->shared_.stopping.load()) {
    worker->begin_drain();
    return;
  }
  if (worker->quic_) worker->quic_->take_inbox();
  worker->arm_wake();
}

void Worker::run() {
  arm_wake();
  const auto rt = shared_.runtime.load();
  for (auto& slot : listeners_) {
    arm_accept(*slot);
    log::info("listening", "worker={} listener={} address={} socket={}", index_,
              log::quote(rt->config.listeners[slot->index].name),
              rt->config.listeners[slot->index].address.to_string(),
              slot->passed ? "passed" : "bound");
  }
  if (quic_) quic_->start();
  if (admin_) admin_->start(*reactor_, timers_);
  auto next_sweep = reactor::Clock::now() + kIdleSweepEvery;
  for (;;) {
    auto now = reactor::Clock::now();
    const auto until_sweep = std::chrono::ceil<std::chrono::milliseconds>(next_sweep - now);
    reactor_->run_once(
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
      // Every accept ended too: a client accepted as it was cancelled is
      // still to come (and to be served).
      const bool accepts_ended = std::all_of(listeners_.begin(), listeners_.end(),
                                             [](const auto& slot) { return !slot->fd; });
      if (connections_.empty() && (!admin_ || admin_->quiet()) &&
          (!quic_ || quic_->quiet() || drain_expired_) && (accepts_ended || drain_expired_))
        break;
      if (!drain_expired_ && now >= drain_deadline_) {
        for (auto& [id, c] : connections_)
          c->close(observe::Outcome::shutdown, false, "drain ended");
        if (quic_) quic_->drain_expired();
        drain_expired_ = true;
      }
    }
  }
}

// --- accepting ---------------------------------------------------------------

void ListenerSlot::on_complete(const reactor::Event& event) {
  worker->on_accept(*this, event);
}

void Worker::arm_accept(ListenerSlot& slot) {
  reactor_->accept_multishot(slot.fd.get(), &slot);
  slot.armed = true;
}

void Worker::on_accept(ListenerSlot& slot, const reactor::Event& event) {
  const int res = event.res;
  const bool more = event.more;
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
    if (more) reactor_->cancel(&slot);
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
    take_queued(slot);
    slot.fd.reset();
  } else if (!slot.paused && !draining_) {
    arm_accept(slot);
  }
}

// A passed socket stays open in other processes (the next worker
// generation accepts from it too), and an accept wakes one waiter per
// client: a client whose wake-up went to this worker's accept as it was
// cancelled would wait, unseen, until another client woke the next
// generation. So what is queued when the accept has ended is taken here and
// served with the rest of the drain; a later client wakes the others.
void Worker::take_queued(ListenerSlot& slot) {
  if (!slot.passed) return;
  for (int i = 0; i < kMaxTakenAtClose; ++i) {
    const int fd = ::accept4(slot.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    accept_connection(slot, fd);
  }
}

// Also while draining: a client accepted is served, never dropped (a reset
// to a client the kernel had already connected is what a drain avoids).
void Worker::accept_connection(ListenerSlot& slot, int raw_fd) {
  UniqueFd fd(raw_fd);
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) return;
  auto client = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&peer));
  if (!client) return;
  // An IPv4 client of a dual-stack listener is an IPv4 address everywhere:
  // the limits, the access log, the PROXY header, the guard.
  client->ip = client->ip.unmapped();
  auto rt = shared_.runtime.load();
  observe::bump(shared_.metrics.listener(slot.index).accepted);
  const config::Listener& listener = rt->config.listeners[slot.index];
  // One getsockopt, and only where Fast Open is on.
  if (listener.fast_open_queue > 0 && syn_data_accepted(fd.get()))
    observe::bump(shared_.metrics.listener(slot.index).fast_open_syn_data);
  const bool proxied = listener.proxy_protocol_in != config::ProxyProtocolIn::off;
  if (proxied && !config::contains(listener.trusted_sources, client->ip)) {
    // Anyone else could claim any client address with a header.
    observe::AccessRecord r;
    r.client = client->to_string();
    r.listener = listener.name;
    r.outcome = observe::Outcome::untrusted_source;
    r.detail = "peer not in trusted_sources";
    record_ending(shared_.metrics, *rt, slot.index, r);
    return;
  }
  const auto& limits = rt->config.limits;
  // Behind a load balancer every peer is the balancer: the per-source limit
  // applies to the client its header names, once it is read.
  const auto admit = shared_.limits.admit(client->ip, limits.max_connections,
                                          proxied ? 0 : limits.max_connections_per_source);
  if (admit != ConnectionLimits::Admit::yes) {
    observe::AccessRecord r;
    r.client = client->to_string();
    r.listener = rt->config.listeners[slot.index].name;
    r.outcome = observe::Outcome::limit;
    r.detail = admit == ConnectionLimits::Admit::over_total ? "max_connections"
                                                            : "max_connections_per_source";
    linger l{1, 0};  // refuse with RST: cheapest for us, clear for the client
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    record_ending(shared_.metrics, *rt, slot.index, r);
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
  spares_->close_all();  // backends see them closed unused, as at preconnect_idle
  if (quic_) quic_->begin_drain();
  drain_deadline_ = reactor::Clock::now() + shared_.runtime.load()->config.timeouts.shutdown;
  for (auto& slot : listeners_) {
    slot->closing = true;
    // Stop listening now, so new clients are refused rather than queued;
    // the accept completes with an error and the fd is closed then. Not a
    // passed socket (systemd's, the master's): it outlives this process, and
    // the clients queued in it are the next one's.
    if (!slot->passed) ::shutdown(slot->fd.get(), SHUT_RDWR);
    if (slot->armed) {
      // (fd closed when the cancelled accept completes)
      reactor_->cancel(slot.get());
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
  reap_.push_back(c);
}

void Worker::wait_for_buffer(std::uint64_t id, int direction) {
  buffer_waiters_.emplace_back(id, direction);
}

void Worker::resume_buffer_waiters() {
  while (!buffer_waiters_.empty() && reactor_->buffers().available() > 0) {
    auto [id, direction] = buffer_waiters_.front();
    buffer_waiters_.pop_front();
    if (Connection* c = find(id)) c->resume(direction);
  }
}

void Worker::wait_for_pipe(std::uint64_t id, int direction) {
  pipe_waiters_.emplace_back(id, direction);
}

void Worker::resume_pipe_waiters() {
  while (!pipe_waiters_.empty() && !pipes_->exhausted()) {
    auto [id, direction] = pipe_waiters_.front();
    pipe_waiters_.pop_front();
    if (Connection* c = find(id)) c->resume(direction);
  }
}

void Worker::touch(Connection* c) {
  idle_.touch(c);
}

void Worker::forget_idle(Connection* c) {
  idle_.remove(c);
}

void Worker::sweep_idle() {
  const auto now = reactor::Clock::now();
  if (quic_) quic_->sweep(now);
  const auto limit = shared_.runtime.load()->config.timeouts.idle;
  while (Connection* c = idle_.oldest()) {
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
      reactor_->poll_remove(old);
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
  reactor_->poll(w->fd, w->events, w);
  w->in_flight = true;
}

void Worker::DnsWatch::on_complete(const reactor::Event& event) {
  int res = event.res;
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
