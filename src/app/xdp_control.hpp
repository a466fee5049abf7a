#pragma once
// The supervisor's side of the XDP source-address filter: started from
// [xdp] before the workers exist (the BPF compile must not run beside them),
// updated in place on SIGHUP, its counters logged every log_interval and
// once more when it stops. Without [xdp] it does nothing.
#include <chrono>
#include <memory>
#include <optional>

#include "bpf/xdp/xdp_filter.hpp"
#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

class XdpControl {
 public:
  // Compiles and attaches when `config` has [xdp], logging one line per
  // interface; any failure is returned for a start-up error.
  static Result<std::unique_ptr<XdpControl>> start(const config::Config& config);
  ~XdpControl();  // logs the final counters, then detaches

  XdpControl(const XdpControl&) = delete;
  XdpControl& operator=(const XdpControl&) = delete;

  // After a reload was accepted (proxy::reload_blockers rules out changes to
  // interfaces or mode): new lists, rate, ports and log interval.
  void reload(const config::Config& next);

  // How long the supervisor may sleep before tick() has work; nullopt: no
  // periodic work at all.
  [[nodiscard]] std::optional<std::chrono::milliseconds> time_to_next_log() const;
  // Logs the counters when they are due.
  void tick();
  // The loaded filter, or null without [xdp].
  [[nodiscard]] const bpf::XdpFilter* filter() const { return filter_.get(); }

 private:
  XdpControl() = default;
  void log_counters();

  std::unique_ptr<bpf::XdpFilter> filter_;
  std::optional<config::Xdp> xdp_;
  std::chrono::steady_clock::time_point next_log_{};
};

}  // namespace sniproxy::app
