#include "app/fast_open_announce.hpp"

#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <string>
#include <string_view>

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

// One side of Fast Open the config asks for, and what the host must allow.
struct Side {
  int bit;
  std::string_view event;
  std::string_view key;     // names who asks for it in the line
  std::string_view effect;  // what setting the bit brings
};
constexpr Side kListeners{kServerBit, "fast_open_disabled", "listener",
                          "for SYN data to be accepted"};
constexpr Side kTargets{kClientBit, "fast_open_connect_disabled", "targets",
                        "for the hello to go in the SYN to backends"};

std::string_view allows(int value) {
  switch (value & (kClientBit | kServerBit)) {
    case kClientBit:
      return "allows clients only";
    case kServerBit:
      return "allows servers only";
    default:
      return "is off";
  }
}

// The connections still work without the bit: the hello just comes after
// the handshake.
void announce(const Side& side, const std::string& who, std::optional<int> value) {
  if (value && (*value & side.bit) != 0) return;
  const std::string detail =
      value ? fmt::format(
                  "net.ipv4.tcp_fastopen={} {}; set bit {} (sysctl -w "
                  "net.ipv4.tcp_fastopen={}) {}",
                  *value, allows(*value), side.bit, *value | side.bit, side.effect)
            : fmt::format("cannot read {}; set bit {} of net.ipv4.tcp_fastopen {}", kSysctl,
                          side.bit, side.effect);
  log::warn(side.event, "{}={} detail={}", side.key, log::quote(who), log::quote(detail));
}
}  // namespace

void announce_fast_open(const config::Config& config) {
  std::string listeners;
  for (const auto& l : config.listeners)
    if (l.fast_open_queue > 0) append(listeners, l.name);
  const std::string targets = fast_open_targets(config);
  if (listeners.empty() && targets.empty()) return;
  const std::optional<int> value = read_sysctl();
  if (!listeners.empty()) announce(kListeners, listeners, value);
  if (!targets.empty()) announce(kTargets, targets, value);
}

}  // namespace sniproxy::app
