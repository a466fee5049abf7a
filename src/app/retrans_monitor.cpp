#include "app/retrans_monitor.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/retrans/capabilities.hpp"
#include "common/elapsed.hpp"
#include "common/log.hpp"

namespace sniproxy::app {

Result<std::unique_ptr<RetransMonitor>> RetransMonitor::start(const config::Retrans& config,
                                                              proxy::SharedState& shared) {
  if (auto caps = bpf::effective_capabilities()) {
    if (auto missing = bpf::missing_tracing_capabilities(*caps); !missing.empty())
      return make_error(fmt::format(
          "[retrans] needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load the tracer; "
          "missing: {}. Start as root (with [process] user to drop later), grant them "
          "(AmbientCapabilities= in the systemd unit), or remove [retrans]",
          fmt::join(missing, ", ")));
  }
  std::unique_ptr<RetransMonitor> m(new RetransMonitor(config, shared));
  m->stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!m->stop_fd_) return make_error(fmt::format("eventfd: {}", std::strerror(errno)));
  RetransMonitor* self = m.get();
  bpf::RetransTracerOptions options;
  options.max_sockets = config.max_sockets;
  const auto began = std::chrono::steady_clock::now();
  auto tracer = bpf::RetransTracer::start(
      [self](const bpf::RetransEvent& event) { self->on_event(event); }, options);
  if (!tracer.ok()) return make_error("[retrans]: " + tracer.error().message);
  m->tracer_ = std::move(*tracer);
  shared.sockets = std::make_unique<observe::SocketIndex>();
  log::info("retrans_tracer", "result=ok hooks={} load_ms={} log_rate={}",
            log::quote(fmt::format("{}", fmt::join(m->tracer_->hooks(), "; "))),
            elapsed_since(began).count(), config.log_rate);
  return m;
}

RetransMonitor::RetransMonitor(const config::Retrans& config, proxy::SharedState& shared)
    : config_(config), shared_(shared), self_tgid_(static_cast<std::uint32_t>(::getpid())) {}

RetransMonitor::~RetransMonitor() {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    if (::write(stop_fd_.get(), &one, sizeof one) < 0) {
      // Only an overflowing counter fails, and then the thread is woken already.
    }
    thread_.join();
  }
}

void RetransMonitor::run() {
  thread_ = std::thread([this] { loop(); });
}

void RetransMonitor::loop() {
  for (;;) {
    pollfd fds[2] = {{tracer_->fd(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      log::error("retrans_tracer", "result=stopped detail={}",
                 log::quote(fmt::format("poll: {}", std::strerror(errno))));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    if (auto drained = tracer_->drain(); !drained.ok()) {
      log::error("retrans_tracer", "result=stopped detail={}", log::quote(drained.error().message));
      return;
    }
    if (const std::uint64_t lost = tracer_->lost_events(); lost != lost_counted_) {
      shared_.metrics.retransmits.count_lost(lost - lost_counted_);
      log::warn("retrans_events_lost", "lost={} total={}", lost - lost_counted_, lost);
      lost_counted_ = lost;
    }
  }
}

bool RetransMonitor::may_log() {
  if (config_.log_rate == 0) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    lines_in_window_ = 0;
  }
  if (lines_in_window_ >= config_.log_rate) {
    ++suppressed_;
    return false;
  }
  ++lines_in_window_;
  return true;
}

void RetransMonitor::on_event(const bpf::RetransEvent& event) {
  const auto owner = shared_.sockets->find(observe::socket_key(event.local, event.remote));
  if (!owner) {
    // Another process's socket is none of our business; one of ours that
    // is not forwarding (yet) is counted, not named.
    if (event.owner_known && event.owner.tgid == self_tgid_)
      shared_.metrics.retransmits.count_unattributed();
    return;
  }
  shared_.metrics.retransmits.count(*owner);
  if (!may_log()) return;
  log::info("retransmit",
            "worker={} conn={} side={} server_name={} backend={} listener={} local={} remote={} "
            "state={} suppressed={}",
            owner->worker, owner->connection, observe::to_string(owner->side),
            owner->server_name.empty() ? "-" : log::quote(owner->server_name), owner->backend,
            log::quote(owner->listener), event.local.to_string(), event.remote.to_string(),
            bpf::tcp_state_name(event.state), suppressed_);
  suppressed_ = 0;
}

}  // namespace sniproxy::app
