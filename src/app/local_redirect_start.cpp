#include "app/local_redirect_start.hpp"

#include <chrono>

#include "common/log.hpp"

namespace sniproxy::app {

std::unique_ptr<bpf::LocalRedirect> start_local_redirect(const config::Config& config) {
  if (!config.forwarding.local_redirect) return nullptr;
  const auto started = std::chrono::steady_clock::now();
  bpf::LocalRedirectOptions options;
  options.max_sockets = kLocalRedirectSockets;
  options.queue_cap = config.forwarding.local_redirect_queue_cap;
  auto created = bpf::LocalRedirect::create(options);
  if (!created) {
    // Like sockmap's: the proxy still works, only without the shortcut.
    log::warn("local_redirect_unavailable", "detail={} now=tcp",
              log::quote(created.error().message));
    return nullptr;
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  log::info("local_redirect_ready",
            "cgroup={} max_sockets={} queue_cap={} compile_ms={} startup_ms={}",
            log::quote((*created)->cgroup()), options.max_sockets, options.queue_cap,
            (*created)->compile_time().count(), took.count());
  return std::move(created).value();
}

}  // namespace sniproxy::app
