#pragma once
// [retrans] in the proxy: the retransmit tracer (bpf/retrans_tracer) drained
// on a thread of its own (poll(2) on the perf buffer and a stop eventfd: no
// reactor waits on it, nothing busy-polls), each event of one of the
// proxy's forwarding sockets joined with its connection through
// SharedState::sockets, counted in Metrics::retransmits and logged (rate
// limited) as one line naming the connection, server name, backend and side.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "bpf/retrans/retrans_tracer.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "proxy/shared_state.hpp"

namespace sniproxy::app {

class RetransMonitor {
 public:
  // Compiles and attaches the tracer (before the workers start, so the
  // compile runs alone) and gives `shared` its socket index. The error names
  // a missing capability or the tracer's failure.
  static Result<std::unique_ptr<RetransMonitor>> start(const config::Retrans& config,
                                                       proxy::SharedState& shared);
  ~RetransMonitor();  // stops and joins the thread, then detaches
  RetransMonitor(const RetransMonitor&) = delete;
  RetransMonitor& operator=(const RetransMonitor&) = delete;

  // Starts draining (after the privilege drop: it needs no capability).
  void run();
  [[nodiscard]] std::vector<std::string> hooks() const { return tracer_->hooks(); }

 private:
  RetransMonitor(const config::Retrans& config, proxy::SharedState& shared);
  void on_event(const bpf::RetransEvent& event);
  void loop();
  bool may_log();

  config::Retrans config_;
  proxy::SharedState& shared_;
  std::unique_ptr<bpf::RetransTracer> tracer_;
  UniqueFd stop_fd_;
  std::thread thread_;
  std::uint64_t lost_counted_ = 0;
  std::uint32_t self_tgid_ = 0;
  // Rate limit of the event lines: log_rate per second, the rest counted and
  // reported on the next line that is written.
  std::chrono::steady_clock::time_point window_start_{};
  std::uint32_t lines_in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace sniproxy::app
