#pragma once
// Which capabilities a BPF tracer lacks, so a user gets an error naming
// them rather than a bare EPERM from deep inside the loader.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sniproxy::bpf {

inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapPerfmon = 38;
inline constexpr int kCapBpf = 39;

// Tracing programs with perf buffers need CAP_BPF and CAP_PERFMON (Linux
// 5.8+), or CAP_SYS_ADMIN which implies both. Given the effective set as a
// bit mask, the names of the missing ones; empty when nothing is missing.
std::vector<std::string> missing_tracing_capabilities(std::uint64_t effective);

// This process's effective capability set (capget(2)); nullopt if unreadable.
std::optional<std::uint64_t> effective_capabilities();

}  // namespace sniproxy::bpf
