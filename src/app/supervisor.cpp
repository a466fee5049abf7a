#include "app/supervisor.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "app/admin_endpoint.hpp"
#include "app/forwarding_announce.hpp"
#include "app/privileges.hpp"
#include "app/retrans_monitor.hpp"
#include "app/systemd_notify.hpp"
#include "app/xdp_control.hpp"
#include "bpf/dns_mirror/dns_mirror.hpp"
#include "bpf/loader/kernel_headers.hpp"
#include "bpf/sockmap/sockmap.hpp"
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

// True when the new config is in force.
bool reload(proxy::SharedState& shared, const std::string& path, XdpControl& xdp) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    log_errors(loaded);
    log::error("reload", "result=failed file={} errors={} detail={}", log::quote(path),
               loaded.errors.size(), log::quote("old config stays in force"));
    return false;
  }
  auto current = shared.runtime.load();
  if (auto why = proxy::reload_blockers(current->config, *loaded.config); !why.empty()) {
    log::error("reload", "result=failed file={} detail={}", log::quote(path),
               log::quote(why + "; restart to apply; old config stays in force"));
    return false;
  }
  auto rt = proxy::Runtime::build(std::move(*loaded.config), current->access_log);
  if (!rt) {
    log::error("reload", "result=failed file={} detail={}", log::quote(path),
               log::quote(rt.error().message));
    return false;
  }
  if (auto keys = proxy::reload_ignored(current->config, rt.value()->config); !keys.empty())
    log::warn("reload_ignored", "keys={} detail={}", log::quote(keys),
              log::quote("restart to apply"));
  apply_log_level(rt.value()->config.log_level);
  shared.runtime.store(std::move(rt).value());
  xdp.reload(shared.runtime.load()->config);
  log::info("reload", "result=ok file={}", log::quote(path));
  return true;
}

// SIGUSR1 (logrotate's postrotate): the file moved away; open the path again.
// Connections of every reload that kept this file write through the same
// object, so all of them follow.
void reopen_access_log(const proxy::SharedState& shared) {
  const auto rt = shared.runtime.load();
  observe::AccessLog& access_log = *rt->access_log;
  if (!access_log.is_file()) {
    log::info("access_log_reopened", "path={} detail={}", log::quote(access_log.path()),
              log::quote("not a file; nothing to reopen"));
    return;
  }
  auto reopened = access_log.reopen();
  if (!reopened) {
    log::error("access_log_reopen", "result=failed path={} errno={} detail={}",
               log::quote(access_log.path()), reopened.error().sys_errno,
               log::quote(reopened.error().message + "; still writing to the old file"));
    return;
  }
  log::info("access_log_reopened", "path={}", log::quote(access_log.path()));
}

// The DNS cache's window in a BPF map, or null. Before the privileges are
// dropped (creating a map needs CAP_BPF); a failure costs only the window.
std::unique_ptr<bpf::DnsMirror> start_dns_mirror(const config::Dns& dns, unsigned workers) {
  if (!dns.bpf_mirror) return nullptr;
  // Every worker's cache fits; a size past the kernel's limits is refused
  // by it, which only turns the mirror off.
  const auto entries = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(std::uint64_t{dns.cache_size} * workers, UINT32_MAX));
  auto mirror = bpf::DnsMirror::create(entries);
  if (!mirror) {
    log::warn("dns_mirror", "result=off reason={}", log::quote(mirror.error().message));
    return nullptr;
  }
  log::info("dns_mirror", "result=on map={} map_id={} max_entries={}", bpf::kDnsMirrorMapName,
            (*mirror)->map_id(), entries);
  return std::move(mirror).value();
}

// The access log file was opened with the start-up credentials; handing it
// to the account keeps a SIGHUP or SIGUSR1 (which reopen it) working after
// the switch.
void hand_over_access_log(const config::AccessLog& log_config, const Account& account) {
  const std::string& path = log_config.path;
  if (path == "off" || path == "stderr" || path == "stdout") return;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  if (::chown(path.c_str(), account.uid, account.gid) != 0)
    log::warn(
        "privileges", "access_log={} detail={}", log::quote(path),
        log::quote(fmt::format("cannot hand the file to {}: {}; a reload may fail to reopen it",
                               account.user, std::strerror(errno))));
}

// Switches credentials as planned and logs the outcome; false: exit.
bool apply_privileges(const PrivilegePlan& plan, const config::Config& config) {
  if (!plan.switch_to) {
    if (plan.stay_root)
      log::warn("privileges", "user=root uid=0 detail={}",
                log::quote("allow_root = true: running as root with every capability"));
    return true;
  }
  const Account& account = *plan.switch_to;
  hand_over_access_log(config.access_log, account);
  const std::uint64_t keep = capabilities_needed(config);
  if (auto dropped = drop_privileges(account, keep); !dropped) {
    log::error("startup", "result=failed detail={}", log::quote(dropped.error().message));
    return false;
  }
  log::info("privileges", "user={} uid={} group={} gid={} kept_caps={}", log::quote(account.user),
            account.uid, log::quote(account.group), account.gid, capability_names(keep));
  return true;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  const auto started = std::chrono::system_clock::now();
  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    for (const auto& d : loaded.errors) fmt::print(stderr, "{}\n", d.to_string());
    return 2;
  }
  apply_log_level(loaded.config->log_level);
  // Before anything is bound: a refusal leaves nothing behind.
  auto privileges = plan_privileges(loaded.config->process);
  if (!privileges) {
    log::error("startup", "result=failed detail={}", log::quote(privileges.error().message));
    return 1;
  }
  raise_fd_limit();

  // Workers inherit this mask: only the main thread takes signals.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto shared = std::make_unique<proxy::SharedState>(loaded.config->listeners.size());
  {
    auto rt = proxy::Runtime::build(std::move(*loaded.config));
    if (!rt) {
      log::error("startup", "result=failed detail={}", log::quote(rt.error().message));
      return 1;
    }
    shared->runtime.store(std::move(rt).value());
  }
  const auto rt = shared->runtime.load();
  const std::string kernel_release = bpf::running_kernel_release();
  const auto io_uring = reactor::probe_io_uring(kernel_release);
  announce_forwarding(rt->config);
  // Before any worker thread: the BPF compile (and a failure) happens alone.
  auto xdp = XdpControl::start(rt->config);
  if (!xdp) {
    log::error("startup", "result=failed detail={}", log::quote(xdp.error().message));
    return 1;
  }
  std::unique_ptr<RetransMonitor> retrans;
  if (rt->config.retrans) {
    auto monitor = RetransMonitor::start(*rt->config.retrans, *shared);
    if (!monitor) {
      log::error("startup", "result=failed detail={}", log::quote(monitor.error().message));
      return 1;
    }
    retrans = std::move(monitor).value();
  }
  // Sockmap mode: compile and attach once, before any connection exists.
  std::unique_ptr<bpf::Sockmap> sockmap;
  if (proxy::uses_sockmap(rt->config)) {
    bpf::SockmapOptions options;
    options.max_sockets = 2 * rt->config.forwarding.sockmap_connections;
    auto created = bpf::Sockmap::create(options);
    if (created) {
      sockmap = std::move(created).value();
      shared->sockmap = sockmap.get();
    } else {
      // A kernel (or a set-up) without what sockmap needs is a fallback, as
      // for one connection the map cannot take: every connection is
      // spliced, counted in sniproxy_sockmap_fallbacks_total. Said once.
      log::warn("sockmap_unavailable", "detail={} now=splice", log::quote(created.error().message));
    }
  }
  unsigned count = rt->config.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());

  // Declared before the workers: their caches write into it until they go.
  const auto dns_mirror = start_dns_mirror(rt->config.dns, count);
  if (dns_mirror)
    shared->dns_cache_observer = [mirror = dns_mirror.get()](std::uint32_t worker) {
      return mirror->observer_for(worker);
    };

  std::vector<std::unique_ptr<proxy::Worker>> workers;
  for (unsigned i = 0; i < count; ++i) {
    auto w = proxy::Worker::create(i, *shared);
    if (!w) {
      log::error("startup", "result=failed worker={} detail={}", i, log::quote(w.error().message));
      return 1;
    }
    workers.push_back(std::move(w).value());
  }
  // Bound now, like the listeners, so a taken port fails the start.
  AdminContext admin;
  admin.shared = shared.get();
  for (auto& w : workers) admin.workers.push_back(w.get());
  admin.xdp = xdp->get();
  admin.config_path = config_path;
  admin.started = started;
  admin.config_loaded_ms.store(unix_ms_now());
  admin.kernel_release = kernel_release;
  admin.io_uring = io_uring;
  admin.retrans = retrans != nullptr;
  if (retrans) admin.retrans_hooks = retrans->hooks();
  if (rt->config.admin) {
    auto server = observe::AdminServer::create(*rt->config.admin, make_admin_handler(admin));
    if (!server) {
      log::error("startup", "result=failed detail={}", log::quote(server.error().message));
      return 1;
    }
    workers.front()->serve_admin(std::move(server).value());
  }
  log::info("startup", "version={} config={} workers={} listeners={} mode={}", SNIPROXY_VERSION,
            log::quote(config_path), count, rt->config.listeners.size(),
            config::to_string(rt->config.forwarding.mode));

  // Listeners bound and BPF loaded; capabilities are per thread, so the
  // workers started below inherit the reduced set.
  if (!apply_privileges(*privileges, rt->config)) return 1;
  if (retrans) retrans->run();

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  // Every listener was bound and listening in Worker::create; the kernel
  // queues connections until the workers take them.
  notify::ready(
      fmt::format("running; {} listeners, {} workers", rt->config.listeners.size(), count));

  for (;;) {
    const int sig = wait_for_signal(signals, (*xdp)->time_to_next_log());
    (*xdp)->tick();
    if (sig == 0) continue;
    if (sig == SIGHUP) {
      // `systemctl reload` waits for READY=1 after RELOADING=1, whatever the
      // outcome; a failure shows in its status line and the journal.
      notify::reloading();
      if (reload(*shared, config_path, **xdp)) {
        observe::bump(shared->metrics.reloads_ok);
        admin.config_loaded_ms.store(unix_ms_now());
        notify::ready("running; config reloaded");
      } else {
        observe::bump(shared->metrics.reloads_failed);
        notify::ready("running; reload failed, old config in force (see the journal)");
      }
      continue;
    }
    if (sig == SIGUSR1) {
      reopen_access_log(*shared);
      continue;
    }
    const auto drain = shared->runtime.load()->config.timeouts.shutdown;
    log::info("shutdown", "signal={} drain_ms={}", strsignal(sig), drain.count());
    notify::stopping(drain);
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
