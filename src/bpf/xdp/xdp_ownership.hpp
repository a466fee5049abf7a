#pragma once
// Whose XDP program is on a device? After a crash the kernel keeps our
// program attached (an XDP program set through netlink belongs to the
// device, not to a process), so the next start must replace it; but it must
// never replace anyone else's program, nor that of a sniproxy still running.
//
// Ours: an XDP program named SNIPROXY_XDP_PROGRAM whose maps have the names
// xdp_filter.bpf.c gives them. Stale: no process holds an fd on it (a live
// sniproxy keeps its program fd open for as long as it runs). A pinned marker
// in /sys/fs/bpf would not do: `ip netns exec` and containers give the proxy
// a private, short-lived bpffs, so the marker would die with the crash.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf/loader/loader.hpp"
#include "bpf/loader/program_info.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

enum class XdpOwner {
  stale_ours,    // ours, left by a proxy that is gone: replace it
  running_ours,  // ours, held by a live process: another sniproxy runs there
  // ours, held only by other workers of this process's master: the
  // generation this one replaces. Replace it (atomically), filtering on.
  previous_generation,
  foreign,  // someone else's: leave it alone
};

struct XdpOccupant {
  std::uint32_t id = 0;
  XdpMode mode = XdpMode::native;
  XdpOwner owner = XdpOwner::foreign;
  std::string name;            // the program's name, for messages
  std::vector<pid_t> holders;  // running_ours: who holds it
};

// Pure: the name and map names say it is xdp_filter.bpf.c's program.
bool is_sniproxy_xdp_program(const ProgramInfo& info);

// Looks at program `id`, attached in `mode`. `master`: the master process
// this worker runs under, if any.
Result<XdpOccupant> inspect_xdp_program(std::uint32_t id, XdpMode mode,
                                        std::optional<pid_t> master = std::nullopt);

// The parent of process `pid` (from /proc), or nullopt when it is gone.
std::optional<pid_t> parent_of(pid_t pid);

}  // namespace sniproxy::bpf
