#include "bpf/retrans/capabilities.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sniproxy::bpf {
namespace {

bool has(std::uint64_t effective, int capability) {
  return (effective >> capability) & 1U;
}

}  // namespace

std::vector<std::string> missing_tracing_capabilities(std::uint64_t effective) {
  if (has(effective, kCapSysAdmin)) return {};
  std::vector<std::string> missing;
  if (!has(effective, kCapBpf)) missing.emplace_back("CAP_BPF");
  if (!has(effective, kCapPerfmon)) missing.emplace_back("CAP_PERFMON");
  return missing;
}

std::optional<std::uint64_t> effective_capabilities() {
  // glibc has no capget wrapper and libcap is not a dependency: the raw
  // syscall with the 64-bit (version 3) layout.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(data[0].effective) |
         (static_cast<std::uint64_t>(data[1].effective) << 32);
}

}  // namespace sniproxy::bpf
