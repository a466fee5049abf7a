#pragma once
// Making a worker's reactor, and choosing its backend once at start-up:
// io_uring where the ring and the operations the proxy needs work, epoll
// otherwise (io_uring blocked by seccomp or kernel.io_uring_disabled, an old
// kernel, a memlock limit).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "reactor/reactor.hpp"
#include "reactor/uring/io_uring_probe.hpp"

namespace sniproxy::reactor {

enum class BackendKind : std::uint8_t { io_uring, epoll };
std::string_view to_string(BackendKind kind);

struct ReactorOptions {
  BackendKind backend = BackendKind::io_uring;
  unsigned entries = 4096;            // operations submitted per batch, at most
  std::uint32_t buffer_count = 1024;  // pool buffers (a power of two)
  std::uint32_t buffer_size = 16384;  // bytes each
};

struct BackendChoice {
  BackendKind kind = BackendKind::io_uring;
  // Why `auto` did not take io_uring ("" when it did, or when configured).
  std::string fallback_reason;
};

// `requested`: a configured backend, or nullopt for auto. An explicit
// io_uring that cannot run here is an error naming the cause and the fix.
Result<BackendChoice> choose_backend(std::optional<BackendKind> requested,
                                     const IoUringFeatures& io_uring);

// The error names the cause (io_uring blocked, memlock, an old kernel).
Result<std::unique_ptr<Reactor>> create_reactor(const ReactorOptions& options);

}  // namespace sniproxy::reactor
