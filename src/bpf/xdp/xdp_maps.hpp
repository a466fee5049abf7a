#pragma once
// The maps of xdp_filter.bpf.c seen from userspace: writes a policy into
// them in place (while the program runs) and sums the per-CPU counters.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {

class Module;

// What the program enforces: the listeners' ports and the [xdp] policy.
struct XdpPolicy {
  std::vector<std::uint16_t> ports{};
  std::vector<config::Prefix> allow{};
  std::vector<config::Prefix> deny{};
  std::uint32_t syn_rate = 0;  // 0: no SYN rate guard
  std::uint32_t syn_burst = 0;
};

// Sums over all CPUs of the program's verdict counters.
struct XdpCounters {
  std::uint64_t passed = 0;
  std::uint64_t dropped_deny = 0;
  std::uint64_t dropped_not_allowed = 0;
  std::uint64_t dropped_rate = 0;
  std::uint64_t malformed = 0;
  std::uint64_t ignored = 0;

  friend bool operator==(const XdpCounters&, const XdpCounters&) = default;
};

class XdpMaps {
 public:
  // The map fds of a loaded xdp_filter.bpf.c module (owned by the Module,
  // which must outlive this).
  static Result<XdpMaps> open(Module& module);

  // Makes the maps hold `policy`. The order keeps every moment safe for a
  // running program: entries are added, then the settings switched, then
  // the old entries removed, so an address moved from allow to deny is
  // denied from the first step and a shrinking allow list never drops an
  // address that stays in it. On failure the maps may hold a mix of the old
  // and new policy (never less than the new deny list, once that step passed).
  Result<bool> apply(const XdpPolicy& policy);

  [[nodiscard]] Result<XdpCounters> counters() const;

 private:
  using KeySet = std::set<std::string>;  // map keys as raw bytes
  struct Map {
    int fd = -1;
    const char* name = "";
    KeySet keys;  // what this object wrote and has not removed
  };

  static Result<bool> add_missing(Map& map, const KeySet& wanted, const std::string& value);
  static Result<bool> remove_extra(Map& map, const KeySet& wanted);
  Result<bool> write_settings(const XdpPolicy& policy);

  Map allow4_, deny4_, allow6_, deny6_, ports_;
  int settings_fd_ = -1;
  int counters_fd_ = -1;
};

// Pure: the settings entry for a policy (exposed for tests).
sniproxy_xdp_settings xdp_settings_for(const XdpPolicy& policy);

}  // namespace sniproxy::bpf
