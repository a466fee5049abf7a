#pragma once
// The two ways to hook a TC classifier onto a device's ingress: a tcx
// bpf_link (Linux 6.6+) and a filter on the clsact qdisc (through libbpf's
// netlink helpers). Both act on the calling thread's network namespace.
#include <cstdint>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {

// A tcx ingress link; closing the fd detaches it. sys_errno EINVAL: the
// kernel has no tcx.
Result<UniqueFd> attach_tcx_ingress(int ifindex, int program_fd);

// A classifier on a clsact qdisc's ingress, as attach_clsact_ingress left it.
struct ClsactFilter {
  int ifindex = 0;
  std::uint32_t handle = 0;    // chosen by the kernel
  std::uint32_t priority = 0;  // chosen by the kernel
  bool created_qdisc = false;  // the clsact qdisc was missing and is ours
  UniqueFd netns;              // the namespace the device is in
};

// Creates the clsact qdisc when missing and adds the filter beside others.
Result<ClsactFilter> attach_clsact_ingress(int ifindex, int program_fd);
// Removes the filter, and the qdisc if it created it, from the filter's
// namespace (entered for the call when this thread is elsewhere).
void detach_clsact_ingress(const ClsactFilter& filter);

}  // namespace sniproxy::bpf
