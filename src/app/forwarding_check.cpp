#include "app/forwarding_check.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "proxy/forwarding_choice.hpp"

namespace sniproxy::app {

Result<bool> check_forwarding(const config::Config& config, const bpf::IoUringFeatures& io_uring,
                              std::string_view kernel_release) {
  std::string auto_listeners;
  for (const auto& l : config.listeners) {
    const auto mode = l.mode.value_or(config.forwarding.mode);
    if (mode == config::ForwardingMode::splice && !io_uring.splice)
      return make_error(fmt::format(
          "listener {}: mode = \"splice\" needs io_uring IORING_OP_SPLICE (Linux 5.7+), which "
          "this kernel ({}) does not offer{}; use mode = \"copy\" or \"auto\"",
          l.name, kernel_release, io_uring.error.empty() ? "" : " (" + io_uring.error + ")"));
    if (mode == config::ForwardingMode::automatic)
      auto_listeners += (auto_listeners.empty() ? "" : ",") + l.name;
  }
  if (!auto_listeners.empty()) {
    if (io_uring.splice)
      log::info("forwarding_auto", "listeners={} policy={} why={}", log::quote(auto_listeners),
                log::quote(proxy::kAutoPolicy), log::quote(proxy::kAutoReason));
    else
      log::warn("forwarding_auto", "listeners={} policy={} kernel={}", log::quote(auto_listeners),
                log::quote(proxy::kAutoWithoutSplice), kernel_release);
  }
  return io_uring.splice;
}

}  // namespace sniproxy::app
