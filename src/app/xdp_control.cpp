#include "app/xdp_control.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <vector>

#include "app/worker_launch.hpp"
#include "bpf/loader/kernel_headers.hpp"
#include "bpf/loader/xdp_device.hpp"
#include "common/log.hpp"
#include "config/choices.hpp"

namespace sniproxy::app {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::uint16_t> listener_ports(const config::Config& config) {
  std::vector<std::uint16_t> ports;
  for (const config::Listener& l : config.listeners) ports.push_back(l.address.port);
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::string_view requested_name(config::XdpMode mode) {
  for (const auto& choice : config::kXdpModes) {
    if (choice.value == mode) return choice.name;
  }
  return "?";
}

// "allow=3 deny=1 syn_rate=100 syn_burst=200": what the maps now hold.
std::string policy_fields(const config::Xdp& xdp, const std::vector<std::uint16_t>& ports) {
  return fmt::format(
      "ports={} allow={} deny={} allow_file={} deny_file={} syn_rate={} syn_burst={}",
      fmt::join(ports, ","), xdp.allow.size(), xdp.deny.size(),
      log::quote(xdp.allow_file.empty() ? "-" : xdp.allow_file),
      log::quote(xdp.deny_file.empty() ? "-" : xdp.deny_file), xdp.syn_rate, xdp.syn_burst);
}

void log_interface(const bpf::XdpInterface& i) {
  std::string extra;
  if (i.replaced_stale_id != 0) {
    extra += fmt::format(
        " {}={} replaced={}",
        i.replaced_generation ? "replaced_generation_program" : "replaced_stale_program",
        i.replaced_stale_id, i.replaced_atomically ? "atomically" : "detach_then_attach");
  }
  if (!i.native_error.empty()) extra += " native_error=" + log::quote(i.native_error);
  log::info("xdp_attached", "interface={} mode={} requested={}{}", i.name, bpf::to_string(i.mode),
            requested_name(i.requested), extra);
}

}  // namespace

Result<std::unique_ptr<XdpControl>> XdpControl::start(const config::Config& config) {
  std::unique_ptr<XdpControl> control(new XdpControl());
  if (!config.xdp) return control;
  const std::vector<std::uint16_t> ports = listener_ports(config);
  // A worker of a master takes the filter over from the generation it
  // replaces, in one step: the interface is never unfiltered.
  std::optional<pid_t> master;
  if (const char* text = std::getenv(kMasterPidVariable)) {
    // Set by the master for its workers; anything else is not a pid.
    const std::string_view digits(text);
    pid_t pid = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (error == std::errc{} && end == digits.data() + digits.size() && pid > 0) master = pid;
  }
  auto filter = bpf::XdpFilter::create(*config.xdp, ports, {}, master);
  if (!filter.ok()) {
    const std::string& why = filter.error().message;
    // Compile and load failures ("BPF: ...") are about the kernel or setup.
    if (why.rfind("BPF:", 0) == 0) {
      return make_error(why + " (`sniproxy --probe` shows what this kernel supports)");
    }
    return filter.error();
  }
  control->filter_ = std::move(*filter);
  control->xdp_ = config.xdp;
  const bpf::HeaderTree headers = bpf::find_header_tree(std::nullopt);
  log::info("xdp_start", "kernel={} headers={} compile_ms={} {}",
            log::quote(bpf::running_kernel_release()), log::quote(headers.version),
            control->filter_->compile_time().count(), policy_fields(*config.xdp, ports));
  for (const bpf::XdpInterface& i : control->filter_->interfaces()) log_interface(i);
  control->next_log_ = Clock::now() + config.xdp->log_interval;
  return control;
}

XdpControl::~XdpControl() {
  if (!filter_) return;
  log_counters();
  std::string names;
  for (const auto& i : filter_->interfaces()) names += (names.empty() ? "" : ",") + i.name;
  filter_.reset();
  log::info("xdp_detached", "interfaces={}", names);
}

void XdpControl::reload(const config::Config& next) {
  if (!filter_ || !next.xdp || next.xdp == xdp_) return;
  const std::vector<std::uint16_t> ports = listener_ports(next);
  auto updated = filter_->update(*next.xdp, ports);
  if (!updated.ok()) {
    // The maps may hold a mix of old and new entries (never fewer denials
    // than the new list, see XdpMaps::apply); the next good reload fixes it.
    log::error("xdp_reload", "result=failed detail={}", log::quote(updated.error().message));
    return;
  }
  if (next.xdp->log_interval != xdp_->log_interval) {
    next_log_ = Clock::now() + next.xdp->log_interval;
  }
  xdp_ = next.xdp;
  log::info("xdp_reload", "result=ok {}", policy_fields(*xdp_, ports));
}

std::optional<std::chrono::milliseconds> XdpControl::time_to_next_log() const {
  if (!filter_ || xdp_->log_interval.count() == 0) return std::nullopt;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_log_ - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

void XdpControl::tick() {
  if (!filter_ || xdp_->log_interval.count() == 0 || Clock::now() < next_log_) return;
  log_counters();
  // Keep the period even when a tick comes late; skip periods slept through.
  next_log_ += xdp_->log_interval;
  if (next_log_ <= Clock::now()) next_log_ = Clock::now() + xdp_->log_interval;
}

void XdpControl::log_counters() {
  auto c = filter_->counters();
  if (!c.ok()) {
    log::warn("xdp_counters", "detail={}", log::quote(c.error().message));
    return;
  }
  log::info("xdp_counters",
            "passed={} dropped_deny={} dropped_not_allowed={} dropped_rate={} malformed={} "
            "ignored={}",
            c->passed, c->dropped_deny, c->dropped_not_allowed, c->dropped_rate, c->malformed,
            c->ignored);
}

}  // namespace sniproxy::app
