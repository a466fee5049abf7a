#pragma once
// The io_uring ring of one worker thread. Every operation submitted carries a
// pointer to a Completion, which is called once per CQE (several times for a
// multishot operation).
#include <liburing.h>

#include <chrono>
#include <memory>

#include "common/result.hpp"

namespace sniproxy::reactor {

class Completion {
 public:
  // res and flags are the CQE's.
  virtual void on_complete(int res, unsigned flags) = 0;

 protected:
  ~Completion() = default;
};

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
  // An SQE whose CQE is ignored (cancellations whose outcome we learn from
  // the cancelled operation itself).
  io_uring_sqe* sqe_ignored(unsigned needed = 1);

  // Submits, waits up to `timeout` for at least one CQE, and dispatches all
  // CQEs that are ready. Returns the number dispatched.
  unsigned run_once(std::chrono::milliseconds timeout);

  io_uring* raw() { return &ring_; }

 private:
  Ring() = default;
  io_uring ring_{};
};

}  // namespace sniproxy::reactor
