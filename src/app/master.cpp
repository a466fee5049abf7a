#include "app/master.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "app/handover_pair.hpp"
#include "app/log_setup.hpp"
#include "app/master_sockets.hpp"
#include "app/notify_receiver.hpp"
#include "app/self_binary.hpp"
#include "app/socket_activation.hpp"
#include "app/systemd_notify.hpp"
#include "app/worker_launch.hpp"
#include "app/worker_threads.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::app {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A worker compiles its BPF programs before it is ready: about a second
// alone, much more on a loaded machine or under sanitizers.
constexpr auto kReadyTimeout = 120s;
// Past its [timeouts] shutdown, a draining worker that has not exited is
// killed after this much more.
constexpr auto kKillMargin = 10s;
// A worker that dies within kShortLife of its start is restarted after a
// back-off doubling from kRestartMin to kRestartMax, so a crash loop does
// not spin; clients wait in the sockets' backlogs meanwhile.
constexpr auto kShortLife = 10s;
constexpr auto kRestartMin = 1s;
constexpr auto kRestartMax = 30s;

using ConfigPtr = std::shared_ptr<const config::Config>;

struct Generation {
  enum class State { starting, serving, draining };
  unsigned number = 0;
  pid_t pid = -1;
  std::optional<NotifyReceiver> notify;
  ConfigPtr config;
  State state = State::starting;
  std::string reason;  // why it started: start, upgrade, reload, restart
  Clock::time_point started;
  Clock::time_point deadline;     // starting: ready by; draining: killed at
  bool reload_forwarded = false;  // a SIGHUP went to it; its READY=1 ends the reload
  bool given_up = false;          // killed for not becoming ready: failure logged
  // With quic listeners: the sending end of its QUIC hand-over channel (its
  // worker holds the other), and the generation whose channel it was given.
  UniqueFd handover_write;
  unsigned handover_from = 0;
};

std::string exit_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by {}", strsignal(WTERMSIG(status)));
  return fmt::format("wait status {}", status);
}

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class Master {
 public:
  Master(std::string config_path, SelfBinary self, UniqueFd signals)
      : config_path_(std::move(config_path)),
        self_(std::move(self)),
        signals_(std::move(signals)) {}

  int run(const ConfigPtr& first, std::vector<PassedSocket> systemd) {
    sockets_.adopt(std::move(systemd));
    config_ = first;
    log::info("master", "version={} pid={} binary={} config={}", SNIPROXY_VERSION, ::getpid(),
              log::quote(self_.path()), log::quote(config_path_));
    if (!start_generation(first, "start")) return 1;
    // A socket no listener has: the config and the .socket unit disagree.
    for (const auto& unused : sockets_.take_unused_systemd())
      log::warn("listener_passed_unused", "address={} fd_name={} detail={}",
                unused.address.to_string(), log::quote(unused.name),
                log::quote("no [[listener]] has this address; closed"));
    for (;;) {
      if (stopping_ && generations_.empty()) {
        log::info("stopped", "");
        return 0;
      }
      if (exit_code_) return *exit_code_;
      wait_and_handle();
    }
  }

 private:
  // --- generations ---------------------------------------------------------

  bool start_generation(const ConfigPtr& config, const std::string& reason) {
    restart_at_.reset();  // this one is the restart, if one was due
    const unsigned number = ++generation_count_;
    const unsigned threads = worker_threads(*config);
    if (auto prepared = sockets_.prepare(*config, threads); !prepared)
      return generation_failed(number, reason, prepared.error().message);
    auto notify = NotifyReceiver::open();
    if (!notify) return generation_failed(number, reason, notify.error().message);
    WorkerLaunch launch;
    launch.binary = self_.path();
    launch.config_path = config_path_;
    launch.sockets = sockets_.for_config(*config);
    launch.notify_address = notify->address();
    // QUIC: this generation's hand-over channel, and the serving one's for
    // it to hand over what that one's sessions are sent (docs/quic.md). The
    // master's copy of the read end closes below, so that a successor's
    // send fails once the worker that read it is gone.
    HandoverPair handover;
    const Generation* predecessor = nullptr;
    if (has_quic_listener(*config)) {
      auto pair = open_handover_pair();
      if (!pair) return generation_failed(number, reason, pair.error().message);
      handover = std::move(pair).value();
      launch.sockets.push_back({handover.read.get(), std::string(kQuicHandoverIn)});
      predecessor = find_state(Generation::State::serving);
      if (predecessor != nullptr && predecessor->handover_write)
        launch.sockets.push_back(
            {predecessor->handover_write.get(), std::string(kQuicHandoverOut)});
      else
        predecessor = nullptr;
    }
    self_.note();
    auto pid = launch_worker(launch);
    if (!pid) return generation_failed(number, reason, pid.error().message);
    auto g = std::make_unique<Generation>();
    g->handover_write = std::move(handover.write);
    g->handover_from = predecessor != nullptr ? predecessor->number : 0;
    g->number = number;
    g->pid = *pid;
    g->notify = std::move(notify).value();
    g->config = config;
    g->reason = reason;
    g->started = Clock::now();
    g->deadline = g->started + kReadyTimeout;
    log::info("generation_starting", "generation={} pid={} reason={} workers={} sockets={}", number,
              *pid, log::quote(reason), threads, launch.sockets.size());
    generations_.push_back(std::move(g));
    return true;
  }

  // Logs why generation `number` did not start; the serving one (if any)
  // goes on. False, for the caller to return.
  bool generation_failed(unsigned number, const std::string& reason, const std::string& detail) {
    const Generation* serving = find_state(Generation::State::serving);
    log::error("generation_failed", "generation={} reason={} detail={} serving={}", number,
               log::quote(reason), log::quote(detail),
               serving != nullptr ? std::to_string(serving->number) : "none");
    if (reloading_) {
      reloading_ = false;
      notify::ready(
          fmt::format("running; generation {} failed, generation {} serves (see the "
                      "journal)",
                      number, serving != nullptr ? serving->number : 0));
    }
    if (serving == nullptr && !ever_served_) exit_code_ = 1;  // the first start failed
    if (serving == nullptr && ever_served_ && !stopping_) schedule_restart();
    return false;
  }

  Generation* find_state(Generation::State state) {
    for (auto& g : generations_)
      if (g->state == state && !g->given_up) return g.get();
    return nullptr;
  }

  void on_ready(Generation& g) {
    g.state = Generation::State::serving;
    ever_served_ = true;
    restart_backoff_ = kRestartMin;
    log::info("generation_ready", "generation={} pid={} after_ms={}", g.number, g.pid,
              ms_since(g.started));
    for (auto& other : generations_) {
      if (other.get() == &g || other->state != Generation::State::serving) continue;
      // Before its SIGTERM: the old worker then keeps its QUIC sessions
      // for the new one to hand their datagrams over.
      if (g.handover_from == other->number && !announce_successor(other->handover_write.get()))
        log::warn("quic_handover", "result=failed generation={} detail={}", other->number,
                  log::quote("could not tell it of its successor; its QUIC sessions end"));
      drain(*other);
    }
    config_ = g.config;
    // Listeners the new config dropped: the old workers' own descriptors
    // keep them open until they stop accepting.
    sockets_.keep_only(*config_);
    if (stopping_) {  // a SIGTERM came while it started
      drain(g);
      return;
    }
    reloading_ = false;
    notify::ready(fmt::format("running; generation {} (pid {}), {} listeners", g.number, g.pid,
                              config_->listeners.size()));
  }

  static void drain(Generation& g) {
    if (g.state == Generation::State::draining) return;
    g.state = Generation::State::draining;
    g.deadline = Clock::now() + g.config->timeouts.shutdown + kKillMargin;
    log::info("generation_draining", "generation={} pid={} drain_ms={}", g.number, g.pid,
              g.config->timeouts.shutdown.count());
    ::kill(g.pid, SIGTERM);
  }

  void on_exit(pid_t pid, int status) {
    auto it = std::find_if(generations_.begin(), generations_.end(),
                           [pid](const auto& g) { return g->pid == pid; });
    if (it == generations_.end()) return;
    std::unique_ptr<Generation> g = std::move(*it);
    generations_.erase(it);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    switch (g->state) {
      case Generation::State::draining:
        log::info("worker_exited", "generation={} pid={} status={} detail=drained", g->number,
                  g->pid, log::quote(exit_text(status)));
        return;
      case Generation::State::starting:
        if (!g->given_up)
          generation_failed(g->number, g->reason,
                            fmt::format("worker {} before it was ready", exit_text(status)));
        return;
      case Generation::State::serving:
        // Exit status 0 unasked is still a worker gone: warn, not error.
        if (clean)
          log::warn("worker_exited", "generation={} pid={} status={} detail=unexpected", g->number,
                    g->pid, log::quote(exit_text(status)));
        else
          log::error("worker_exited", "generation={} pid={} status={} detail=unexpected", g->number,
                     g->pid, log::quote(exit_text(status)));
        if (stopping_) return;
        if (find_state(Generation::State::starting) == nullptr) {
          if (ms_since(g->started) >= std::chrono::milliseconds(kShortLife).count())
            restart_backoff_ = kRestartMin;
          schedule_restart();
        }
        return;
    }
  }

  void schedule_restart() {
    restart_at_ = Clock::now() + restart_backoff_;
    log::info("worker_restart", "in_ms={}",
              std::chrono::duration_cast<std::chrono::milliseconds>(restart_backoff_).count());
    restart_backoff_ = std::min<Clock::duration>(restart_backoff_ * 2, kRestartMax);
  }

  // --- signals ---------------------------------------------------------------

  void on_signal(int sig) {
    switch (sig) {
      case SIGCHLD:
        reap();
        return;
      case SIGHUP:
        reload();
        return;
      case SIGUSR2:
        upgrade();
        return;
      case SIGUSR1:  // the access log moved: every worker writes to it
        for (auto& g : generations_) ::kill(g->pid, SIGUSR1);
        return;
      default:
        stop(sig);
        return;
    }
  }

  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      on_exit(pid, status);
    }
  }

  // The config on disk, or nullopt (each error logged) for the old to stay.
  std::optional<ConfigPtr> load(std::string_view event) {
    auto loaded = config::load_file(config_path_);
    if (!loaded.config) {
      log_config_errors(loaded);
      log::error(event, "result=failed file={} errors={} detail={}", log::quote(config_path_),
                 loaded.errors.size(), log::quote("the running generation stays"));
      return std::nullopt;
    }
    apply_log_level(loaded.config->log_level);
    return std::make_shared<const config::Config>(std::move(*loaded.config));
  }

  bool refuse_while_starting(std::string_view event) {
    const Generation* starting = find_state(Generation::State::starting);
    if (starting == nullptr) return false;
    log::error(event, "result=failed detail={}",
               log::quote(fmt::format("generation {} is still starting; signal again once it is "
                                      "ready",
                                      starting->number)));
    return true;
  }

  // RELOADING=1, then the file on disk; nullopt (READY=1 said again with
  // `failed_status`) when it does not load or a generation is starting.
  std::optional<ConfigPtr> begin_change(std::string_view event, std::string_view failed_status) {
    if (stopping_) return std::nullopt;
    notify::reloading();
    reloading_ = true;
    auto next = refuse_while_starting(event) ? std::nullopt : load(event);
    if (!next) {
      reloading_ = false;
      notify::ready(failed_status);
    }
    return next;
  }

  void reload() {
    auto next =
        begin_change("reload", "running; reload failed, old config in force (see the journal)");
    if (!next) return;
    std::string why = proxy::reload_blockers(*config_, **next);
    if (self_.replaced())
      why = why.empty() ? "the binary was replaced" : why + "; the binary was replaced";
    Generation* serving = find_state(Generation::State::serving);
    if (why.empty() && serving != nullptr) {
      // The worker takes it in place, as a proxy without a master does.
      config_ = *next;
      serving->reload_forwarded = true;
      ::kill(serving->pid, SIGHUP);
      return;
    }
    start_generation(*next, "reload: " + (why.empty() ? std::string("no worker serving") : why));
  }

  void upgrade() {
    auto next =
        begin_change("upgrade", "running; upgrade failed, old generation serves (see the journal)");
    if (next) start_generation(*next, "upgrade");
  }

  void stop(int sig) {
    if (stopping_) return;
    stopping_ = true;
    restart_at_.reset();
    const auto drain_ms = config_->timeouts.shutdown;
    log::info("shutdown", "signal={} drain_ms={} workers={}", strsignal(sig), drain_ms.count(),
              generations_.size());
    notify::stopping(drain_ms);
    for (auto& g : generations_) {
      if (g->state == Generation::State::starting) {
        // Not serving anyone yet: nothing to drain.
        g->state = Generation::State::draining;
        g->deadline = Clock::now() + kKillMargin;
        ::kill(g->pid, SIGTERM);
      } else {
        drain(*g);
      }
    }
  }

  // --- waiting ---------------------------------------------------------------

  void on_notify(Generation& g) {
    for (auto& m : g.notify->receive()) {
      if (m.sender != g.pid) {
        log::warn("notify_ignored", "generation={} sender={} detail={}", g.number, m.sender,
                  log::quote("not this generation's worker"));
        continue;
      }
      if (notify_field(m.text, "READY") != std::optional<std::string>("1")) continue;
      if (g.state == Generation::State::starting && !g.given_up) {
        on_ready(g);
      } else if (g.state == Generation::State::serving && g.reload_forwarded) {
        g.reload_forwarded = false;
        reloading_ = false;
        notify::ready(notify_field(m.text, "STATUS").value_or("running; config reloaded"));
      }
    }
  }

  void check_deadlines() {
    const auto now = Clock::now();
    for (auto& g : generations_) {
      if (now < g->deadline) continue;
      if (g->state == Generation::State::starting && !g->given_up) {
        g->given_up = true;
        generation_failed(
            g->number, g->reason,
            fmt::format("not ready within {} s; killed",
                        std::chrono::duration_cast<std::chrono::seconds>(kReadyTimeout).count()));
        ::kill(g->pid, SIGKILL);
      } else if (g->state == Generation::State::draining) {
        log::warn("worker_killed", "generation={} pid={} detail={}", g->number, g->pid,
                  log::quote("still running past its drain"));
        ::kill(g->pid, SIGKILL);
        g->deadline = Clock::time_point::max();
      }
    }
    if (restart_at_ && now >= *restart_at_) {
      restart_at_.reset();
      start_generation(config_, "restart");
    }
  }

  void wait_and_handle() {
    std::vector<pollfd> fds{{signals_.get(), POLLIN, 0}};
    auto next = Clock::time_point::max();
    for (auto& g : generations_) {
      fds.push_back({g->notify->fd(), POLLIN, 0});
      next = std::min(next, g->deadline);
    }
    if (restart_at_) next = std::min(next, *restart_at_);
    int timeout_ms = -1;
    if (next != Clock::time_point::max())
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count() + 1, 0,
          60'000));
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log::error("master", "detail={}", log::quote(fmt::format("poll: {}", std::strerror(errno))));
      ::sleep(1);  // never spin
      return;
    }
    // Notifications first: a worker's READY=1 then its exit is handled in
    // that order. (Generations may change below: look them up by fd.)
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      for (auto& g : generations_)
        if (g->notify->fd() == fds[i].fd) on_notify(*g);
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals_.get(), &info, sizeof info) == sizeof info)
        on_signal(static_cast<int>(info.ssi_signo));
    }
    check_deadlines();
  }

  std::string config_path_;
  SelfBinary self_;
  UniqueFd signals_;
  MasterSockets sockets_;
  ConfigPtr config_;  // the config of the generation serving (or to serve)
  std::vector<std::unique_ptr<Generation>> generations_;
  unsigned generation_count_ = 0;
  bool ever_served_ = false;
  bool reloading_ = false;  // systemd was told RELOADING=1 and waits for READY=1
  bool stopping_ = false;
  std::optional<int> exit_code_;
  std::optional<Clock::time_point> restart_at_;
  Clock::duration restart_backoff_ = kRestartMin;
};

}  // namespace

int run_master(const std::string& config_path) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&signals, s);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd) {
    log::error("startup", "result=failed detail={}",
               log::quote(fmt::format("signalfd: {}", std::strerror(errno))));
    return 1;
  }
  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    for (const auto& d : loaded.errors) fmt::print(stderr, "{}\n", d.to_string());
    return 2;
  }
  apply_log_level(loaded.config->log_level);
  auto self = SelfBinary::at_start();
  if (!self) {
    log::error("startup", "result=failed detail={}", log::quote(self.error().message));
    return 1;
  }
  auto systemd = take_passed_sockets();
  if (!systemd) {
    log::error("startup", "result=failed detail={}", log::quote(systemd.error().message));
    return 1;
  }
  if (auto problem = passed_type_problem(*systemd, loaded.config->listeners); !problem.empty()) {
    log::error("startup", "result=failed detail={}", log::quote(problem));
    return 1;
  }
  Master master(config_path, std::move(self).value(), std::move(signal_fd));
  return master.run(std::make_shared<const config::Config>(std::move(*loaded.config)),
                    std::move(systemd).value());
}

}  // namespace sniproxy::app
