#include "bpf/xdp/xdp_ownership.hpp"

#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

#include "shared_types.h"

namespace sniproxy::bpf {

bool is_sniproxy_xdp_program(const ProgramInfo& info) {
  // Names kept by xdp_filter.bpf.c; together with the program name they are
  // unlikely to be anyone else's by chance.
  static constexpr std::array<std::string_view, 4> kMaps = {"xdp_settings", "xdp_counters",
                                                            "xdp_syn_rate", "xdp_ports"};
  if (info.type != BPF_PROG_TYPE_XDP || info.name != SNIPROXY_XDP_PROGRAM) return false;
  return std::all_of(kMaps.begin(), kMaps.end(), [&](std::string_view map) {
    return std::find(info.map_names.begin(), info.map_names.end(), map) != info.map_names.end();
  });
}

std::optional<pid_t> parent_of(pid_t pid) {
  // /proc/PID/stat: "PID (COMM) STATE PPID ...", COMM may hold spaces and
  // parentheses: the fields after it start past its last ')'.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  pid_t parent = 0;
  if (!(rest >> state >> parent)) return std::nullopt;
  return parent;
}

Result<XdpOccupant> inspect_xdp_program(std::uint32_t id, XdpMode mode,
                                        std::optional<pid_t> master) {
  auto info = program_info(id);
  if (!info.ok()) return info.error();
  XdpOccupant occupant;
  occupant.id = id;
  occupant.mode = mode;
  occupant.name = info->name;
  if (!is_sniproxy_xdp_program(*info)) return occupant;
  occupant.holders = program_holders(id);
  occupant.owner = occupant.holders.empty() ? XdpOwner::stale_ours : XdpOwner::running_ours;
  if (master && !occupant.holders.empty() &&
      std::all_of(occupant.holders.begin(), occupant.holders.end(),
                  [&](pid_t holder) { return parent_of(holder) == master; }))
    occupant.owner = XdpOwner::previous_generation;
  return occupant;
}

}  // namespace sniproxy::bpf
