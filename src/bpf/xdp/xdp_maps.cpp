#include "bpf/xdp/xdp_maps.hpp"

#include <bcc/libbpf.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/loader/loader.hpp"
#include "bpf/loader/per_cpu_sums.hpp"

namespace sniproxy::bpf {
namespace {

constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
constexpr std::uint32_t kSettingsSlot = 0;

template <class T>
std::string raw(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string lpm_key(const config::Prefix& prefix) {
  if (prefix.address.family == Family::v4) {
    sniproxy_xdp_lpm_v4 key{};
    key.prefixlen = prefix.length;
    std::memcpy(key.addr, prefix.address.bytes.data(), sizeof key.addr);
    return raw(key);
  }
  sniproxy_xdp_lpm_v6 key{};
  key.prefixlen = prefix.length;
  std::memcpy(key.addr, prefix.address.bytes.data(), sizeof key.addr);
  return raw(key);
}

struct SplitKeys {
  std::set<std::string> v4, v6;
};

SplitKeys keys_of(const std::vector<config::Prefix>& prefixes) {
  SplitKeys keys;
  for (const config::Prefix& p : prefixes) {
    (p.address.family == Family::v4 ? keys.v4 : keys.v6).insert(lpm_key(p));
  }
  return keys;
}

}  // namespace

sniproxy_xdp_settings xdp_settings_for(const XdpPolicy& policy) {
  sniproxy_xdp_settings s{};
  s.allow_set = policy.allow.empty() ? 0 : 1;
  s.syn_rate = policy.syn_rate;
  if (policy.syn_rate != 0) {
    s.interval_ns = kNanosPerSecond / policy.syn_rate;
    const std::uint32_t burst = std::max<std::uint32_t>(policy.syn_burst, 1);
    s.burst_ns = static_cast<std::uint64_t>(burst - 1) * s.interval_ns;
  }
  return s;
}

Result<XdpMaps> XdpMaps::open(Module& module) {
  XdpMaps maps;
  struct Wanted {
    const char* name;
    int* fd;
  };
  for (auto [name, fd] :
       {Wanted{"xdp_allow4", &maps.allow4_.fd}, Wanted{"xdp_deny4", &maps.deny4_.fd},
        Wanted{"xdp_allow6", &maps.allow6_.fd}, Wanted{"xdp_deny6", &maps.deny6_.fd},
        Wanted{"xdp_ports", &maps.ports_.fd}, Wanted{"xdp_settings", &maps.settings_fd_},
        Wanted{"xdp_counters", &maps.counters_fd_}}) {
    auto map = module.map_fd(name);
    if (!map.ok()) return map.error();
    *fd = *map;
  }
  maps.allow4_.name = "xdp_allow4";
  maps.deny4_.name = "xdp_deny4";
  maps.allow6_.name = "xdp_allow6";
  maps.deny6_.name = "xdp_deny6";
  maps.ports_.name = "xdp_ports";
  return maps;
}

Result<bool> XdpMaps::add_missing(Map& map, const KeySet& wanted, const std::string& value) {
  for (const std::string& key : wanted) {
    if (map.keys.contains(key)) continue;
    if (bpf_update_elem(map.fd, const_cast<char*>(key.data()), const_cast<char*>(value.data()),
                        BPF_ANY) != 0) {
      return make_error(
          fmt::format("XDP: cannot add an entry to map {}: {}", map.name, std::strerror(errno)));
    }
    map.keys.insert(key);
  }
  return true;
}

Result<bool> XdpMaps::remove_extra(Map& map, const KeySet& wanted) {
  for (auto it = map.keys.begin(); it != map.keys.end();) {
    if (wanted.contains(*it)) {
      ++it;
      continue;
    }
    if (bpf_delete_elem(map.fd, const_cast<char*>(it->data())) != 0 && errno != ENOENT) {
      return make_error(fmt::format("XDP: cannot remove an entry from map {}: {}", map.name,
                                    std::strerror(errno)));
    }
    it = map.keys.erase(it);
  }
  return true;
}

Result<bool> XdpMaps::write_settings(const XdpPolicy& policy) {
  sniproxy_xdp_settings settings = xdp_settings_for(policy);
  std::uint32_t slot = kSettingsSlot;
  if (bpf_update_elem(settings_fd_, &slot, &settings, BPF_ANY) != 0) {
    return make_error(fmt::format("XDP: cannot write xdp_settings: {}", std::strerror(errno)));
  }
  return true;
}

Result<bool> XdpMaps::apply(const XdpPolicy& policy) {
  const SplitKeys allow = keys_of(policy.allow);
  const SplitKeys deny = keys_of(policy.deny);
  KeySet ports;
  for (std::uint16_t port : policy.ports) ports.insert(raw(port));
  const std::string present = raw(std::uint8_t{1});
  using Step = std::pair<Map*, const KeySet*>;

  for (auto [map, wanted] :
       {Step{&ports_, &ports}, Step{&deny4_, &deny.v4}, Step{&deny6_, &deny.v6},
        Step{&allow4_, &allow.v4}, Step{&allow6_, &allow.v6}}) {
    auto added = add_missing(*map, *wanted, present);
    if (!added.ok()) return added;
  }
  auto written = write_settings(policy);
  if (!written.ok()) return written;
  for (auto [map, wanted] :
       {Step{&allow4_, &allow.v4}, Step{&allow6_, &allow.v6}, Step{&deny4_, &deny.v4},
        Step{&deny6_, &deny.v6}, Step{&ports_, &ports}}) {
    auto removed = remove_extra(*map, *wanted);
    if (!removed.ok()) return removed;
  }
  return true;
}

Result<XdpCounters> XdpMaps::counters() const {
  auto read = per_cpu_sums(counters_fd_, SNIPROXY_XDP_COUNTER_SLOTS);
  if (!read.ok()) return make_error("XDP: xdp_counters: " + read.error().message);
  const std::vector<std::uint64_t>& sums = *read;
  XdpCounters c;
  c.passed = sums[SNIPROXY_XDP_PASSED];
  c.dropped_deny = sums[SNIPROXY_XDP_DROPPED_DENY];
  c.dropped_not_allowed = sums[SNIPROXY_XDP_DROPPED_NOT_ALLOWED];
  c.dropped_rate = sums[SNIPROXY_XDP_DROPPED_RATE];
  c.malformed = sums[SNIPROXY_XDP_MALFORMED];
  c.ignored = sums[SNIPROXY_XDP_IGNORED];
  return c;
}

}  // namespace sniproxy::bpf
