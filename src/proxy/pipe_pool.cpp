#include "proxy/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"

namespace sniproxy::proxy {

namespace {
// Idle pipes kept for reuse beyond which released ones are closed: a burst
// must not pin its peak in pipes for ever.
constexpr std::size_t kMaxIdle = 64;
}  // namespace

PipePool::PipePool(std::uint32_t pipe_size, std::uint32_t max_pipes)
    : pipe_size_(pipe_size), max_pipes_(max_pipes) {}

Result<std::unique_ptr<Pipe>> PipePool::acquire() {
  if (!idle_.empty()) {
    auto pipe = std::move(idle_.back());
    idle_.pop_back();
    ++in_use_;
    return pipe;
  }
  if (in_use_ >= max_pipes_) return make_error("exhausted");
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return make_error(std::strerror(errno));
  auto pipe = std::make_unique<Pipe>();
  pipe->read_end.reset(fds[0]);
  pipe->write_end.reset(fds[1]);
  const int got = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
  if (got < 0) {
    // Over the per-user pipe quota or pipe-max-size: the default 64 KiB pipe
    // still works, only with more splices per megabyte.
    if (!resize_failure_logged_) {
      log::warn("pipe_resize_failed", "size={} error=\"{}\"", pipe_size_, std::strerror(errno));
      resize_failure_logged_ = true;
    }
  }
  ++in_use_;
  return pipe;
}

void PipePool::release(std::unique_ptr<Pipe> pipe) {
  --in_use_;
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(pipe));
}

void PipePool::forget(std::unique_ptr<Pipe> pipe) {
  --in_use_;
  pipe.reset();
}

}  // namespace sniproxy::proxy
