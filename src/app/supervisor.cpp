#include "app/supervisor.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "app/admin_endpoint.hpp"
#include "app/fast_open_announce.hpp"
#include "app/forwarding_announce.hpp"
#include "app/log_setup.hpp"
#include "app/privileges.hpp"
#include "app/retrans_monitor.hpp"
#include "app/socket_activation.hpp"
#include "app/systemd_notify.hpp"
#include "app/transparent_source.hpp"
#include "app/worker_launch.hpp"
#include "app/worker_threads.hpp"
#include "app/xdp_control.hpp"
#include "bpf/dns_mirror/dns_mirror.hpp"
#include "bpf/loader/kernel_headers.hpp"
#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "bpf/sockmap/sockmap.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"
#include "config/names.hpp"
#include "proxy/health_checker.hpp"
#include "proxy/pool_resolver.hpp"
#include "proxy/runtime.hpp"
#include "proxy/shared_state.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::app {

namespace {

// Each connection takes two descriptors; ask for the hard limit up front so
// max_connections is reachable without the operator tuning ulimit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// True when the new config is in force. `resolved`: the pool servers'
// names' last answers, so a named server that stays keeps its members.
bool reload(proxy::SharedState& shared, const std::string& path, XdpControl& xdp,
            const upstream::ResolvedHosts& resolved) {
  auto loaded = config::load_file(path);
  if (!loaded.config) {
    log_config_errors(loaded);
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
  // The main thread holds what the workers kept at start-up: whether it
  // covers IP_TRANSPARENT.
  if (auto why = transparent_source_refusal(*loaded.config); !why.empty()) {
    log::error("reload", "result=failed file={} detail={}", log::quote(path),
               log::quote(why + "; old config stays in force"));
    return false;
  }
  auto rt = proxy::Runtime::build(std::move(*loaded.config), shared.health, true,
                                  current->access_log, resolved);
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

// One start-up error line; false, for the caller to return.
bool startup_failed(std::string_view detail) {
  log::error("startup", "result=failed detail={}", log::quote(detail));
  return false;
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

// A worker of a master: the death signal the master set is cleared by a
// change of credentials, so it is set again here; a master already gone
// (the parent is another process now) means draining at once.
void follow_master() {
  const char* master = std::getenv(kMasterPidVariable);
  if (master == nullptr) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (std::to_string(::getppid()) != master) ::kill(::getpid(), SIGTERM);
}

// Switches credentials as planned, reduces the capabilities to what
// `config` needs (started as root with a user, or as a user holding ambient
// capabilities, as under the packaged unit) and logs the outcome; false:
// exit. Runs while the main thread is the only thread of the proxy's own,
// and checks that no task of the process (an io_uring worker, say) kept
// more: every thread started after it inherits the reduced sets.
bool apply_privileges(const PrivilegePlan& plan, const config::Config& config) {
  if (plan.stay_root) {
    log::warn("privileges", "user=root uid=0 detail={}",
              log::quote("allow_root = true: running as root with every capability"));
    return true;
  }
  const auto held = current_capabilities();
  std::uint64_t keep = capabilities_needed(config, held ? held->permitted : 0);
  Account account;
  if (plan.switch_to) {
    account = *plan.switch_to;
    hand_over_access_log(config.access_log, account);
    if (auto dropped = drop_privileges(account, keep); !dropped)
      return startup_failed(dropped.error().message);
  } else {
    account = current_account();
    auto reduced = reduce_capabilities(keep);
    if (!reduced) return startup_failed(reduced.error().message);
    keep = *reduced;
  }
  if (const auto above = tasks_holding_more_than(keep); !above.empty())
    return startup_failed(fmt::format("tasks kept capabilities beyond {}: {}",
                                      capability_names(keep), fmt::join(above, " ")));
  log::info("privileges", "user={} uid={} group={} gid={} kept_caps={}", log::quote(account.user),
            account.uid, log::quote(account.group), account.gid, capability_names(keep));
  follow_master();
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

// Everything start-up creates, declared in the order it is built so that an
// early exit and the normal one tear it down in reverse: the workers before
// the DNS mirror they write into, the sockmap, tracer and XDP filter after
// the connections that use them. Not moved once built: the admin handler
// holds a reference to `admin`.
struct Proxy {
  std::string config_path;
  std::chrono::system_clock::time_point started;
  sigset_t signals{};
  std::unique_ptr<proxy::SharedState> shared;
  std::shared_ptr<const proxy::Runtime> rt;
  // Active checks of the pools' servers, one thread for the process.
  std::unique_ptr<proxy::HealthChecker> checker;
  // Serialises refresh_check_targets: the last caller reads the newest
  // Runtime and member lists.
  std::mutex check_targets_mutex;
  // The pools' DNS-named servers, resolved on one thread for the process;
  // after `checker`, so it stops first (it refreshes the checker's targets).
  std::unique_ptr<proxy::PoolResolver> pool_resolver;
  std::string kernel_release;
  reactor::IoUringFeatures io_uring{};
  reactor::BackendChoice reactor_choice;
  std::unique_ptr<XdpControl> xdp;
  std::unique_ptr<RetransMonitor> retrans;
  std::unique_ptr<bpf::Sockmap> sockmap;
  std::unique_ptr<bpf::QuicFastPath> quic_fast_path;
  unsigned worker_count = 0;
  std::unique_ptr<bpf::DnsMirror> dns_mirror;
  std::vector<std::unique_ptr<proxy::Worker>> workers;
  AdminContext admin;
  UniqueFd passed_admin;  // the admin endpoint's socket, when passed in
  std::vector<std::thread> threads;
};

// Workers inherit this mask: only the main thread takes signals.
void block_signals(sigset_t& signals) {
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Stage 1: the file is read and checked, the credentials planned (before
// anything is bound: a refusal leaves nothing behind) and the runtime built.
// nullopt: go on; otherwise the exit code.
std::optional<int> load_config(Proxy& p, std::optional<PrivilegePlan>& plan) {
  auto loaded = config::load_file(p.config_path);
  if (!loaded.config) {
    for (const auto& d : loaded.errors) fmt::print(stderr, "{}\n", d.to_string());
    return 2;
  }
  apply_log_level(loaded.config->log_level);
  auto privileges = plan_privileges(loaded.config->process);
  if (!privileges) {
    startup_failed(privileges.error().message);
    return 1;
  }
  plan = *privileges;
  raise_fd_limit();
  p.shared = std::make_unique<proxy::SharedState>(loaded.config->listeners.size());
  auto rt = proxy::Runtime::build(std::move(*loaded.config), p.shared->health, false);
  if (!rt) {
    startup_failed(rt.error().message);
    return 1;
  }
  p.shared->runtime.store(std::move(rt).value());
  p.rt = p.shared->runtime.load();
  return std::nullopt;
}

// The workers' event loop, chosen once: `auto` says once why it runs on
// epoll; an io_uring that was asked for and cannot run ends the start.
bool choose_reactor(Proxy& p) {
  const config::ReactorBackend configured = p.rt->config.reactor.backend;
  std::optional<reactor::BackendKind> requested;
  if (configured == config::ReactorBackend::io_uring) requested = reactor::BackendKind::io_uring;
  if (configured == config::ReactorBackend::epoll) requested = reactor::BackendKind::epoll;
  auto choice = reactor::choose_backend(requested, p.io_uring);
  if (!choice) return startup_failed(choice.error().message);
  p.reactor_choice = *choice;
  p.shared->reactor_backend = choice->kind;
  p.shared->reactor_may_fall_back = configured == config::ReactorBackend::automatic;
  if (!choice->fallback_reason.empty())
    log::warn("reactor_fallback", "backend=epoll reason={}", log::quote(choice->fallback_reason));
  return true;
}

// [quic] fast_path: compiled and attached once, before any session exists.
// Unlike sockmap's, asking for it and not getting it ends the start: the
// operator named the devices, and a proxy that silently carried every
// datagram in userspace would look like a working fast path.
bool start_quic_fast_path(Proxy& p) {
  const config::Quic& quic = p.rt->config.quic;
  if (!quic.fast_path) return true;
  bpf::QuicFastPathOptions options;
  options.interfaces = quic.fast_path_interfaces;
  options.max_sessions = quic.max_sessions;
  auto created = bpf::QuicFastPath::create(options);
  if (!created)
    return startup_failed(
        fmt::format("[quic] fast_path: {} (it needs CAP_BPF, CAP_NET_ADMIN and "
                    "CAP_PERFMON, or root, and each of fast_path_interfaces)",
                    created.error().message));
  p.quic_fast_path = std::move(created).value();
  p.shared->quic_fast_path = p.quic_fast_path.get();
  for (const std::string& attached : p.quic_fast_path->attachments())
    log::info("quic_fast_path", "result=attached hook={}", log::quote(attached));
  return true;
}

// Stage 2: the kernel side, compiled and attached before any worker thread
// so that the BPF compile (and a failure) happens alone, and while the
// start-up privileges are still held.
bool prepare_kernel_features(Proxy& p) {
  const config::Config& config = p.rt->config;
  p.kernel_release = bpf::running_kernel_release();
  p.io_uring = reactor::probe_io_uring(p.kernel_release);
  if (!choose_reactor(p)) return false;
  announce_fast_open(config);
  auto xdp = XdpControl::start(config);
  if (!xdp) return startup_failed(xdp.error().message);
  p.xdp = std::move(xdp).value();
  if (config.retrans) {
    auto monitor = RetransMonitor::start(*config.retrans, *p.shared);
    if (!monitor) return startup_failed(monitor.error().message);
    p.retrans = std::move(monitor).value();
  }
  // Sockmap mode (or auto that may use it): compile and attach once, before
  // any connection exists.
  if (proxy::uses_sockmap(config)) {
    bpf::SockmapOptions options;
    options.max_sockets = 2 * config.forwarding.sockmap_connections;
    auto created = bpf::Sockmap::create(options);
    if (created) {
      p.sockmap = std::move(created).value();
      p.shared->sockmap = p.sockmap.get();
    } else {
      // A kernel (or a set-up) without what sockmap needs is a fallback, as
      // for one connection the map cannot take: every connection is
      // spliced, counted in sniproxy_sockmap_fallbacks_total; auto goes
      // on with copy and splice only. Said once.
      log::warn("sockmap_unavailable", "detail={} now={}", log::quote(created.error().message),
                sockmap_fallback_plan(config));
    }
  }
  announce_forwarding(config, p.shared->sockmap != nullptr);
  announce_sockmap_buffers(config, p.shared->sockmap != nullptr);
  if (!start_quic_fast_path(p)) return false;
  p.worker_count = worker_threads(config);
  p.shared->worker_count = p.worker_count;
  p.dns_mirror = start_dns_mirror(config.dns, p.worker_count);
  if (p.dns_mirror)
    p.shared->dns_cache_observer = [mirror = p.dns_mirror.get()](std::uint32_t worker) {
      return mirror->observer_for(worker);
    };
  return true;
}

// Stage 3: the workers (each binds and listens on every listener here) and
// the admin server, bound now like the listeners so a taken port fails the
// start. No thread runs yet.
// The listening sockets systemd passed, matched to the config's listeners by
// address; the others are bound by each worker as usual.
bool take_systemd_listeners(Proxy& p) {
  auto passed = take_passed_sockets();
  if (!passed) return startup_failed(passed.error().message);
  if (passed->empty()) return true;
  // The master's QUIC hand-over channel (docs/quic.md), for the QuicService.
  p.shared->quic_handover_in = take_named_socket(*passed, kQuicHandoverIn);
  p.shared->quic_handover_out = take_named_socket(*passed, kQuicHandoverOut);
  const auto& listeners = p.rt->config.listeners;
  if (auto problem = passed_type_problem(*passed, listeners); !problem.empty())
    return startup_failed(problem);
  p.shared->passed_listeners = match_passed_sockets(*passed, listeners);
  for (std::size_t i = 0; i < listeners.size(); ++i)
    if (const auto count = p.shared->passed_listeners[i].size(); count > 0)
      log::info("listener_passed", "listener={} address={} sockets={}",
                log::quote(listeners[i].name), listeners[i].address.to_string(), count);
  if (p.rt->config.admin) p.passed_admin = take_passed_socket(*passed, p.rt->config.admin->listen);
  // A socket no listener has: the config and the .socket unit disagree.
  for (const auto& unused : *passed)
    log::warn("listener_passed_unused", "address={} fd_name={} detail={}",
              unused.address.to_string(), log::quote(unused.name),
              log::quote("no [[listener]] has this address; closed"));
  return true;
}

// The checker's targets: every current member of the Runtime in force. From
// a reload (main thread) and a changed DNS answer (the resolving thread).
void refresh_check_targets(Proxy& p) {
  std::lock_guard lock(p.check_targets_mutex);
  p.checker->set_targets(proxy::check_targets(p.shared->runtime.load()->pools));
}

bool create_workers(Proxy& p) {
  if (!take_systemd_listeners(p)) return false;
  try {
    p.checker = std::make_unique<proxy::HealthChecker>();
  } catch (const std::system_error& e) {
    return startup_failed(fmt::format("pool health checker: {}", e.what()));
  }
  refresh_check_targets(p);
  auto pool_resolver = proxy::PoolResolver::create(p.rt->config.dns, p.shared->health,
                                                   [&p] { refresh_check_targets(p); });
  if (!pool_resolver) return startup_failed("pool DNS resolver: " + pool_resolver.error().message);
  p.pool_resolver = std::move(pool_resolver).value();
  for (unsigned i = 0; i < p.worker_count; ++i) {
    auto w = proxy::Worker::create(i, *p.shared);
    if (!w) {
      log::error("startup", "result=failed worker={} detail={}", i, log::quote(w.error().message));
      return false;
    }
    p.workers.push_back(std::move(w).value());
  }
  AdminContext& admin = p.admin;
  admin.shared = p.shared.get();
  for (auto& w : p.workers) admin.workers.push_back(w.get());
  admin.xdp = p.xdp.get();
  admin.config_path = p.config_path;
  admin.started = p.started;
  admin.config_loaded_ms.store(unix_ms_now());
  admin.kernel_release = p.kernel_release;
  admin.io_uring = p.io_uring;
  admin.reactor_fallback_reason = p.reactor_choice.fallback_reason;
  admin.retrans = p.retrans != nullptr;
  if (p.retrans) admin.retrans_hooks = p.retrans->hooks();
  if (p.rt->config.admin) {
    auto server = observe::AdminServer::create(*p.rt->config.admin, make_admin_handler(admin),
                                               std::move(p.passed_admin));
    if (!server) return startup_failed(server.error().message);
    p.workers.front()->serve_admin(std::move(server).value());
  }
  log::info("startup", "version={} config={} workers={} listeners={} mode={} reactor={}",
            SNIPROXY_VERSION, log::quote(p.config_path), p.worker_count,
            p.rt->config.listeners.size(), config::to_string(p.rt->config.forwarding.mode),
            p.workers.front()->reactor().backend_name());
  return true;
}

// Stage 5: the threads, started after the privilege drop so that they
// inherit the reduced set, then READY=1. Every listener was bound and
// listening in Worker::create; the kernel queues connections until the
// workers take them.
void start_threads(Proxy& p) {
  if (p.retrans) p.retrans->run();
  // The pools' names are resolved before any worker accepts (bounded: one
  // query's tries to the first server); a name without an answer by then
  // has no members until it answers.
  p.pool_resolver->start(p.rt, 3 * p.rt->config.dns.timeout + std::chrono::milliseconds(500));
  p.checker->start();
  for (auto& w : p.workers) p.threads.emplace_back([&w] { w->run(); });
  notify::ready(fmt::format("running; {} listeners, {} workers", p.rt->config.listeners.size(),
                            p.worker_count));
}

// Stage 6: SIGHUP reloads, SIGUSR1 reopens the access log, SIGTERM/SIGINT
// end the loop; the XDP counters are logged between signals.
void signal_loop(Proxy& p) {
  for (;;) {
    const int sig = wait_for_signal(p.signals, p.xdp->time_to_next_log());
    p.xdp->tick();
    if (sig == 0) continue;
    if (sig == SIGHUP) {
      // `systemctl reload` waits for READY=1 after RELOADING=1, whatever the
      // outcome; a failure shows in its status line and the journal.
      notify::reloading();
      if (reload(*p.shared, p.config_path, *p.xdp, p.pool_resolver->answers())) {
        observe::bump(p.shared->metrics.reloads_ok);
        // New servers are checked at once; those that stay keep their state.
        // New names are looked up at once; names that stay keep their answers.
        p.pool_resolver->follow(p.shared->runtime.load());
        refresh_check_targets(p);
        p.admin.config_loaded_ms.store(unix_ms_now());
        notify::ready("running; config reloaded");
      } else {
        observe::bump(p.shared->metrics.reloads_failed);
        notify::ready("running; reload failed, old config in force (see the journal)");
      }
      continue;
    }
    if (sig == SIGUSR1) {
      reopen_access_log(*p.shared);
      continue;
    }
    const auto drain = p.shared->runtime.load()->config.timeouts.shutdown;
    log::info("shutdown", "signal={} drain_ms={}", strsignal(sig), drain.count());
    notify::stopping(drain);
    return;
  }
}

// Stage 7: the workers stop accepting and drain; the rest goes with `p`.
void drain_and_stop(Proxy& p) {
  p.shared->stopping.store(true);
  for (auto& w : p.workers) w->stop();
  for (auto& t : p.threads) t.join();
  p.workers.clear();
  log::info("stopped", "");
}

}  // namespace

int run_proxy(const std::string& config_path) {
  Proxy p;
  p.config_path = config_path;
  p.started = std::chrono::system_clock::now();
  // First: a SIGHUP or SIGUSR1 (a reload, logrotate) that comes while the
  // proxy starts must wait for the signal loop, not end the process.
  block_signals(p.signals);
  std::optional<PrivilegePlan> plan;
  if (auto exit_code = load_config(p, plan)) return *exit_code;
  if (!prepare_kernel_features(p) || !create_workers(p)) return 1;
  // Stage 4: listeners bound and BPF loaded; capabilities are per thread,
  // so the threads started below inherit the reduced set.
  if (!apply_privileges(*plan, p.rt->config)) return 1;
  // With the capabilities the workers will run with, before any serves.
  if (auto why = transparent_source_refusal(p.rt->config); !why.empty()) {
    startup_failed(why);
    return 1;
  }
  start_threads(p);
  signal_loop(p);
  drain_and_stop(p);
  return 0;
}

}  // namespace sniproxy::app
