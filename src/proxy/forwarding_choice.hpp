#pragma once
// What `[forwarding] mode = "auto"` does with a connection, kept in one place
// so the policy and the benchmark that justifies it (bench/proxy) meet here.
//
// Every io_uring splice runs on an io-wq thread (two thread hops per chunk),
// while copy mode's recv/send complete inline; so short exchanges (TLS
// handshakes, API calls) are cheapest copied, and long streams are cheapest
// spliced (no userspace copy of each byte). Each direction therefore starts
// in copy mode and moves to splice once it has carried kAutoSpliceAfterBytes.
// The move happens between a completed send and the next read, when the
// direction holds no bytes, so nothing can be reordered.
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

namespace sniproxy::proxy {

inline constexpr std::uint64_t kAutoSpliceAfterBytes = 256 * 1024;

// Whether a direction in copy mode that has carried `bytes` should continue
// by splicing. `splice_available`: this kernel's io_uring has
// IORING_OP_SPLICE (probed once at start-up); without it auto stays copy.
constexpr bool switch_to_splice(config::ForwardingMode mode, std::uint64_t bytes,
                                bool splice_available = true) {
  return mode == config::ForwardingMode::automatic && splice_available &&
         bytes >= kAutoSpliceAfterBytes;
}

// For the start-up log of a config using auto: what it will do and why
// (the figures are bench/proxy/run-modes.sh on the 2-core 6.18 VM, README).
inline constexpr std::string_view kAutoPolicy =
    "copy, then splice once a direction has carried 262144 bytes";
inline constexpr std::string_view kAutoReason =
    "io_uring splice runs on io-wq threads: cheaper for long streams (bulk 0.55x direct "
    "at 1.06 CPU-s/GiB vs copy 0.33x at 1.60), dearer for short exchanges (10286 conn/s "
    "copied vs 9760 spliced)";
inline constexpr std::string_view kAutoWithoutSplice =
    "copy only: this kernel's io_uring has no IORING_OP_SPLICE";

}  // namespace sniproxy::proxy
