#include "app/fast_open_announce.hpp"

#include <fmt/format.h>

#include <fstream>
#include <string>

#include "common/log.hpp"

namespace sniproxy::app {

namespace {
constexpr const char* kSysctl = "/proc/sys/net/ipv4/tcp_fastopen";
constexpr int kServerBit = 2;  // TFO_SERVER_ENABLE: accept data in SYNs
}  // namespace

void announce_fast_open(const config::Config& config) {
  std::string listeners;
  for (const auto& l : config.listeners)
    if (l.fast_open_queue > 0) listeners += (listeners.empty() ? "" : ",") + l.name;
  if (listeners.empty()) return;
  std::ifstream file(kSysctl);
  int value = 0;
  std::string detail;
  if (!(file >> value)) {
    detail = fmt::format(
        "cannot read {}; SYN data is accepted only when net.ipv4.tcp_fastopen "
        "has bit 2 set",
        kSysctl);
  } else if ((value & kServerBit) == 0) {
    detail = fmt::format(
        "net.ipv4.tcp_fastopen={} {}; set bit 2 (sysctl -w "
        "net.ipv4.tcp_fastopen=3) for SYN data to be accepted",
        value, (value & 1) != 0 ? "allows clients only" : "is off");
  } else {
    return;
  }
  // The connections still work: their hello just comes after the handshake.
  log::warn("fast_open_disabled", "listener={} detail={}", log::quote(listeners),
            log::quote(detail));
}

}  // namespace sniproxy::app
