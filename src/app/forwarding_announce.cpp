#include "app/forwarding_announce.hpp"

#include "common/log.hpp"
#include "proxy/forwarding_choice.hpp"

namespace sniproxy::app {

void announce_forwarding(const config::Config& config) {
  std::string auto_listeners;
  for (const auto& l : config.listeners)
    if (l.mode.value_or(config.forwarding.mode) == config::ForwardingMode::automatic)
      auto_listeners += (auto_listeners.empty() ? "" : ",") + l.name;
  if (auto_listeners.empty()) return;
  log::info("forwarding_auto", "listeners={} policy={} why={}", log::quote(auto_listeners),
            log::quote(proxy::kAutoPolicy), log::quote(proxy::kAutoReason));
}

}  // namespace sniproxy::app
