#pragma once
// Making a worker's reactor. Today there is one backend, io_uring; the epoll
// backend will be chosen here when io_uring is blocked.
#include <cstdint>
#include <memory>

#include "common/result.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::reactor {

struct ReactorOptions {
  unsigned entries = 4096;            // operations submitted per batch, at most
  std::uint32_t buffer_count = 1024;  // pool buffers (a power of two)
  std::uint32_t buffer_size = 16384;  // bytes each
};

// The error names the cause (io_uring blocked, memlock, an old kernel).
Result<std::unique_ptr<Reactor>> create_reactor(const ReactorOptions& options);

}  // namespace sniproxy::reactor
