#include "app/retrans_command.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <csignal>
#include <ctime>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "bpf/retrans/capabilities.hpp"
#include "bpf/retrans/retrans_table.hpp"
#include "bpf/retrans/retrans_tracer.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::app {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// SIGINT/SIGTERM as a readable fd, so the loop waits on signals and the
// perf buffer in one poll(2). Blocked before the (slow) BPF compile so a
// Ctrl-C during start-up is not lost but ends the loop at once.
UniqueFd stop_signals_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

// Flushes stdout; false once the reader went away (e.g. `| head`).
bool flush_stdout() {
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
}

}  // namespace

int run_retrans_command(const RetransOptions& options) {
  if (auto caps = bpf::effective_capabilities()) {
    auto missing = bpf::missing_tracing_capabilities(*caps);
    if (!missing.empty()) {
      fmt::print(stderr,
                 "sniproxy retrans: needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load the "
                 "tracer; missing: {}. Run as root or grant them, e.g. "
                 "`setcap cap_bpf,cap_perfmon+ep /usr/sbin/sniproxy`.\n",
                 fmt::join(missing, ", "));
      return 1;
    }
  }
  // Writing to a closed pipe must end the loop, not kill the process
  // before the BPF hooks are detached.
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd signals = stop_signals_fd();
  if (!signals) {
    fmt::print(stderr, "sniproxy retrans: signalfd: {}\n", std::strerror(errno));
    return 1;
  }

  const std::int64_t realtime_offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
  bpf::RetransTable table;
  std::uint64_t events = 0;
  auto on_event = [&](const bpf::RetransEvent& event) {
    ++events;
    if (options.interval_s) {
      table.add(event);
    } else if (options.json) {
      fmt::print("{}\n", bpf::format_event_json(event, realtime_offset));
    } else {
      fmt::print("{}\n", bpf::format_event_line(event, realtime_offset));
    }
  };
  auto tracer = bpf::RetransTracer::start(on_event);
  if (!tracer.ok()) {
    fmt::print(stderr, "sniproxy retrans: {}\n", tracer.error().message);
    return 1;
  }
  fmt::print(stderr, "sniproxy retrans: tracing TCP retransmits on this host; hooks: {}\n",
             fmt::join((*tracer)->hooks(), "; "));

  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.interval_s.value_or(1.0)));
  auto next_table = Clock::now() + interval;
  std::uint64_t lost_reported = 0;
  bool stop = false;
  int status = 0;
  while (!stop) {
    // Wake for events, a signal, or the next table; never spin.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_table - Clock::now());
    pollfd fds[2] = {{(*tracer)->fd(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(wait.count(), 0) + 1));
    if (ready < 0 && errno != EINTR) {
      fmt::print(stderr, "sniproxy retrans: poll: {}\n", std::strerror(errno));
      status = 1;
      break;
    }
    stop = ready > 0 && (fds[1].revents & POLLIN);
    if (auto drained = (*tracer)->drain(); !drained.ok()) {
      fmt::print(stderr, "sniproxy retrans: {}\n", drained.error().message);
      status = 1;
      break;
    }
    if (options.interval_s && (Clock::now() >= next_table || stop)) {
      const std::uint64_t lost = (*tracer)->lost_events() - lost_reported;
      lost_reported += lost;
      std::string time = bpf::format_wall_time(clock_ns(CLOCK_REALTIME));
      if (options.json) {
        fmt::print("{}\n", table.render_json(time, *options.interval_s, lost));
      } else {
        fmt::print("{}\n", table.render(time, *options.interval_s, lost));
      }
      table.clear();
      next_table += interval;
      if (next_table < Clock::now()) next_table = Clock::now() + interval;
    } else if (!options.interval_s && Clock::now() >= next_table) {
      next_table = Clock::now() + interval;
    }
    if (!flush_stdout()) break;
    // Lost events are reported as they happen in the per-event views.
    if (!options.interval_s && (*tracer)->lost_events() != lost_reported) {
      fmt::print(stderr, "sniproxy retrans: {} events lost (perf buffer full)\n",
                 (*tracer)->lost_events() - lost_reported);
      lost_reported = (*tracer)->lost_events();
    }
  }
  auto counters = (*tracer)->counters();
  fmt::print(stderr,
             "sniproxy retrans: stopped; events={} lost={} undecodable={} unknown_owner={} "
             "owners_recorded={} kworker_sends_skipped={}\n",
             events, (*tracer)->lost_events(), (*tracer)->undecodable_events(),
             counters.unknown_owner, counters.owners_recorded, counters.kworker_sends_skipped);
  return status;
}

}  // namespace sniproxy::app
