#pragma once
// The slots of a BPF_MAP_TYPE_PERCPU_ARRAY of u64 counters, each summed over
// every possible CPU. The XDP filter and the QUIC fast path count per CPU so
// their programs never share a cache line; their readers want one figure.
#include <cstdint>
#include <vector>

#include "common/result.hpp"

namespace sniproxy::bpf {

// Slot i of the result is slot i of the map summed over the CPUs. The error
// names what failed (the CPU count, or the slot that could not be read);
// callers add which map it was.
Result<std::vector<std::uint64_t>> per_cpu_sums(int map_fd, std::uint32_t slots);

}  // namespace sniproxy::bpf
