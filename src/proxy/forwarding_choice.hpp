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

#include "config/config.hpp"

namespace sniproxy::proxy {

inline constexpr std::uint64_t kAutoSpliceAfterBytes = 256 * 1024;

// Whether a direction in copy mode that has carried `bytes` should continue
// by splicing.
constexpr bool switch_to_splice(config::ForwardingMode mode, std::uint64_t bytes) {
  return mode == config::ForwardingMode::automatic && bytes >= kAutoSpliceAfterBytes;
}

}  // namespace sniproxy::proxy
