#include "app/supervisor.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/xdp_control.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"
#include "config/names.hpp"
#include "proxy/runtime.hpp"
#include "proxy/shared_state.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::app {

namespace {

void apply_log_level(const std::string& level) {
  if (level == "debug")
    log::set_min_level(log::Level::debug);
  else if (level == "warn")
    log::set_min_level(log::Level::warn);
  else if (level == "error")
    log::set_min_level(log::Level::error);
  else
    log::set_min_level(log::Level::info);
}

// Each connection takes two descriptors; ask for the hard limit up front so
// max_connections is reachable without the operator tuning ulimit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void log_errors(const config::LoadResult& r) {
  for (const auto& d : r.errors) log::error("config_error", "at={}", log::quote(d.to_string()));
}

void reload(proxy::SharedState& shared, const std::string& path, XdpControl& xdp) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    log_errors(loaded);
    log::error("reload", "result=failed file={} errors={} detail={}", log::quote(path),
               loaded.errors.size(), log::quote("old config stays in force"));
    return;
  }
  auto current = shared.runtime.load();
  if (auto why = proxy::reload_blockers(current->config, *loaded.config); !why.empty()) {
    log::error("reload", "result=failed file={} detail={}", log::quote(path),
               log::quote(why + "; restart to apply; old config stays in force"));
    return;
  }
  auto rt = proxy::Runtime::build(std::move(*loaded.config));
  if (!rt) {
    log::error("reload", "result=failed file={} detail={}", log::quote(path),
               log::quote(rt.error().message));
    return;
  }
  if (rt.value()->config.dns.servers != current->config.dns.servers)
    log::warn("reload", "detail={}", log::quote("[dns] changes apply after a restart"));
  apply_log_level(rt.value()->config.log_level);
  shared.runtime.store(std::move(rt).value());
  xdp.reload(shared.runtime.load()->config);
  log::info("reload", "result=ok file={}", log::quote(path));
}

// sigwait, or sigtimedwait when `timeout` is set; 0 when it passed first.
int wait_for_signal(const sigset_t& signals, std::optional<std::chrono::milliseconds> timeout) {
  if (!timeout) {
    int sig = 0;
    return sigwait(&signals, &sig) == 0 ? sig : 0;
  }
  const timespec ts{static_cast<time_t>(timeout->count() / 1000),
                    static_cast<long>(timeout->count() % 1000) * 1'000'000};
  const int sig = sigtimedwait(&signals, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace

int run_proxy(const std::string& config_path) {
  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    for (const auto& d : loaded.errors) fmt::print(stderr, "{}\n", d.to_string());
    return 2;
  }
  apply_log_level(loaded.config->log_level);
  raise_fd_limit();

  // Workers inherit this mask: only the main thread takes signals.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto shared = std::make_unique<proxy::SharedState>();
  {
    auto rt = proxy::Runtime::build(std::move(*loaded.config));
    if (!rt) {
      log::error("startup", "result=failed detail={}", log::quote(rt.error().message));
      return 1;
    }
    shared->runtime.store(std::move(rt).value());
  }
  const auto rt = shared->runtime.load();
  // Before any worker thread: the BPF compile (and a failure) happens alone.
  auto xdp = XdpControl::start(rt->config);
  if (!xdp) {
    log::error("startup", "result=failed detail={}", log::quote(xdp.error().message));
    return 1;
  }
  unsigned count = rt->config.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());

  std::vector<std::unique_ptr<proxy::Worker>> workers;
  for (unsigned i = 0; i < count; ++i) {
    auto w = proxy::Worker::create(i, *shared);
    if (!w) {
      log::error("startup", "result=failed worker={} detail={}", i, log::quote(w.error().message));
      return 1;
    }
    workers.push_back(std::move(w).value());
  }
  log::info("startup", "version={} config={} workers={} listeners={} mode={}", SNIPROXY_VERSION,
            log::quote(config_path), count, rt->config.listeners.size(),
            config::to_string(rt->config.forwarding.mode));

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  for (;;) {
    const int sig = wait_for_signal(signals, (*xdp)->time_to_next_log());
    (*xdp)->tick();
    if (sig == 0) continue;
    if (sig == SIGHUP) {
      reload(*shared, config_path, **xdp);
      continue;
    }
    log::info("shutdown", "signal={} drain_ms={}", strsignal(sig),
              shared->runtime.load()->config.timeouts.shutdown.count());
    break;
  }
  shared->stopping.store(true);
  for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  workers.clear();
  log::info("stopped", "");
  return 0;
}

}  // namespace sniproxy::app
