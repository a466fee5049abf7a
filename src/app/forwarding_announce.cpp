#include "app/forwarding_announce.hpp"

#include "common/log.hpp"
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

std::string sockmap_fallback_plan(const config::Config& config) {
  bool sockmap_mode = config.forwarding.mode == config::ForwardingMode::sockmap;
  for (const auto& l : config.listeners)
    if (l.mode == config::ForwardingMode::sockmap) sockmap_mode = true;
  const bool auto_mode = proxy::uses_auto_sockmap(config);
  if (sockmap_mode && auto_mode) return "splice,auto_without_sockmap";
  return auto_mode ? "auto_without_sockmap" : "splice";
}

}  // namespace sniproxy::app
