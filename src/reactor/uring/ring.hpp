#pragma once
// The io_uring ring of one worker thread (the uring backend's core). Every
// SQE carries a pointer to the reactor::Completion its CQE is delivered to,
// once per CQE (several times for a multishot operation).
#include <liburing.h>
#include <linux/time_types.h>

#include <chrono>
#include <deque>
#include <memory>

#include "common/result.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::reactor {

class BufferRing;

class Ring {
 public:
  // Fails with a message naming the cause: io_uring disabled by sysctl or
  // blocked by a seccomp profile (containers), or too old a kernel.
  static Result<std::unique_ptr<Ring>> create(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // An SQE for `completion`, never null: submits pending SQEs when the queue
  // is full. `needed` SQEs are guaranteed contiguous (for linked chains).
  io_uring_sqe* sqe(Completion* completion, unsigned needed = 1);
  // An SQE whose CQE is dropped (cancellations and linked timeouts, whose
  // outcome the operation they act on reports).
  io_uring_sqe* sqe_ignored(unsigned needed = 1);
  // Storage for a linked timeout's timespec, valid until the next submit
  // (the kernel copies it when the SQE is submitted).
  __kernel_timespec* timespec_for(Timeout timeout);

  // The buffer ring whose buffers CQEs with IORING_CQE_F_BUFFER took.
  void track_buffers(BufferRing* buffers) { buffers_ = buffers; }

  // Submits, waits up to `timeout` for at least one CQE, and dispatches all
  // CQEs that are ready. Returns the number dispatched.
  unsigned run_once(std::chrono::milliseconds timeout);

  io_uring* raw() { return &ring_; }

 private:
  Ring() = default;
  void submit();
  void release_timespecs();
  io_uring ring_{};
  BufferRing* buffers_ = nullptr;
  std::deque<__kernel_timespec> timespecs_;  // deque: stable addresses
};

}  // namespace sniproxy::reactor
