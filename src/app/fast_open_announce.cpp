#include "app/fast_open_announce.hpp"

#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <string>

#include "common/log.hpp"

namespace sniproxy::app {

namespace {
constexpr const char* kSysctl = "/proc/sys/net/ipv4/tcp_fastopen";
constexpr int kClientBit = 1;  // TFO_CLIENT_ENABLE: send data in SYNs
constexpr int kServerBit = 2;  // TFO_SERVER_ENABLE: accept data in SYNs

std::optional<int> read_sysctl() {
  std::ifstream file(kSysctl);
  int value = 0;
  if (!(file >> value)) return std::nullopt;
  return value;
}

void append(std::string& list, const std::string& item) {
  list += (list.empty() ? "" : ",") + item;
}

// What asks for Fast Open toward backends: "table:NAME" for a table with a
// fast_open route (its own or its pool's), "pool:NAME" for a fast_open pool
// (which a listener's fallback may use too).
std::string fast_open_targets(const config::Config& config) {
  std::string targets;
  for (const auto& [name, table] : config.tables)
    for (const auto& route : table.routes)
      if (route.target.fast_open) {
        append(targets, "table:" + name);
        break;
      }
  for (const auto& [name, pool] : config.pools)
    if (pool.fast_open) append(targets, "pool:" + name);
  return targets;
}

void announce_listeners(const std::string& listeners, std::optional<int> value) {
  std::string detail;
  if (!value) {
    detail = fmt::format(
        "cannot read {}; SYN data is accepted only when net.ipv4.tcp_fastopen "
        "has bit 2 set",
        kSysctl);
  } else if ((*value & kServerBit) == 0) {
    detail = fmt::format(
        "net.ipv4.tcp_fastopen={} {}; set bit 2 (sysctl -w "
        "net.ipv4.tcp_fastopen=3) for SYN data to be accepted",
        *value, (*value & kClientBit) != 0 ? "allows clients only" : "is off");
  } else {
    return;
  }
  // The connections still work: their hello just comes after the handshake.
  log::warn("fast_open_disabled", "listener={} detail={}", log::quote(listeners),
            log::quote(detail));
}

void announce_targets(const std::string& targets, std::optional<int> value) {
  std::string detail;
  if (!value) {
    detail = fmt::format(
        "cannot read {}; the hello goes in the SYN to backends only when "
        "net.ipv4.tcp_fastopen has bit 1 set",
        kSysctl);
  } else if ((*value & kClientBit) == 0) {
    detail = fmt::format(
        "net.ipv4.tcp_fastopen={} {}; set bit 1 (sysctl -w net.ipv4.tcp_fastopen={}) for the "
        "hello to go in the SYN to backends",
        *value, (*value & kServerBit) != 0 ? "allows servers only" : "is off", *value | kClientBit);
  } else {
    return;
  }
  // The connects still work: plain handshakes, the hello after them.
  log::warn("fast_open_connect_disabled", "targets={} detail={}", log::quote(targets),
            log::quote(detail));
}
}  // namespace

void announce_fast_open(const config::Config& config) {
  std::string listeners;
  for (const auto& l : config.listeners)
    if (l.fast_open_queue > 0) append(listeners, l.name);
  const std::string targets = fast_open_targets(config);
  if (listeners.empty() && targets.empty()) return;
  const std::optional<int> value = read_sysctl();
  if (!listeners.empty()) announce_listeners(listeners, value);
  if (!targets.empty()) announce_targets(targets, value);
}

}  // namespace sniproxy::app
