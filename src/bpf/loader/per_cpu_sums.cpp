#include "bpf/loader/per_cpu_sums.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::bpf {

Result<std::vector<std::uint64_t>> per_cpu_sums(int map_fd, std::uint32_t slots) {
  // A per-CPU value has one entry per possible CPU (not online, not present),
  // which is what libbpf counts from /sys/devices/system/cpu/possible.
  const int cpus = ::libbpf_num_possible_cpus();
  if (cpus <= 0) {
    return make_error(fmt::format("cannot count the possible CPUs: {}", std::strerror(-cpus)));
  }
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  std::vector<std::uint64_t> sums(slots, 0);
  for (std::uint32_t slot = 0; slot < slots; ++slot) {
    if (::bpf_map_lookup_elem(map_fd, &slot, per_cpu.data()) != 0) {
      return make_error(fmt::format("cannot read slot {}: {}", slot, std::strerror(errno)));
    }
    for (std::uint64_t value : per_cpu) sums[slot] += value;
  }
  return sums;
}

}  // namespace sniproxy::bpf
