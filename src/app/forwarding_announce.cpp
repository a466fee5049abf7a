#include "app/forwarding_announce.hpp"

#include <fmt/format.h>

#include <cstdint>

#include "common/log.hpp"
#include "proxy/forward/sockmap_session.hpp"
#include "proxy/forwarding_choice.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::app {

void announce_forwarding(const config::Config& config, bool sockmap_loaded) {
  std::string auto_listeners;
  for (const auto& l : config.listeners)
    if (l.mode.value_or(config.forwarding.mode) == config::ForwardingMode::automatic)
      auto_listeners += (auto_listeners.empty() ? "" : ",") + l.name;
  if (auto_listeners.empty()) return;
  // Asked for but not loaded: event=sockmap_unavailable said why, and auto
  // does what it does without the option.
  const bool sockmap = config.forwarding.auto_sockmap && sockmap_loaded;
  log::info("forwarding_auto", "listeners={} policy={} why={}", log::quote(auto_listeners),
            log::quote(sockmap ? proxy::kAutoSockmapPolicy : proxy::kAutoPolicy),
            log::quote(sockmap ? proxy::kAutoSockmapReason : proxy::kAutoReason));
}

void announce_sockmap_buffers(const config::Config& config, bool sockmap_loaded) {
  if (!sockmap_loaded) return;
  const std::uint64_t cap = config.forwarding.sockmap_queue_cap;
  if (proxy::forward::sockmap_receive_buffer(cap) != 0) return;
  // Without the fixed buffer a bulk stream past the cap keeps the sender's
  // autotuned window, and most of its bytes take the userspace path.
  const std::uint64_t wanted = proxy::forward::sockmap_receive_buffer_wanted(cap);
  log::warn("sockmap_receive_buffer", "rmem_max={} wanted={} detail={}",
            proxy::forward::receive_buffer_max(), wanted,
            log::quote(fmt::format("net.core.rmem_max is below the receive buffer sockmap "
                                   "sockets get for sockmap_queue_cap={}: their buffers stay "
                                   "autotuned and bulk past the cap mostly takes the userspace "
                                   "path; raise it (sysctl -w net.core.rmem_max={})",
                                   cap, wanted)));
}

std::string sockmap_fallback_plan(const config::Config& config) {
  bool sockmap_mode = config.forwarding.mode == config::ForwardingMode::sockmap;
  for (const auto& l : config.listeners)
    if (l.mode == config::ForwardingMode::sockmap) sockmap_mode = true;
  const bool auto_mode = proxy::uses_auto_sockmap(config);
  if (sockmap_mode && auto_mode) return "splice,auto_without_sockmap";
  return auto_mode ? "auto_without_sockmap" : "splice";
}

}  // namespace sniproxy::app
