#include "reactor/uring/ring.hpp"

#include "reactor/uring/buffer_ring.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace sniproxy::reactor {

namespace {
// CQEs for SQEs submitted with this user_data are dropped.
constexpr __u64 kIgnored = 0;
}  // namespace

Result<std::unique_ptr<Ring>> Ring::create(unsigned entries) {
  std::unique_ptr<Ring> ring(new Ring());
  io_uring_params params{};
  // Completions are only reaped when the worker enters the kernel anyway:
  // let the kernel skip interrupting it to run task work. (No SINGLE_ISSUER:
  // the ring is created on the main thread and driven by the worker.)
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  params.flags |= IORING_SETUP_CQSIZE;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring->ring_, &params);
  if (rc == -EINVAL) {
    // Older kernels lack some flags; the plain ring works the same, slower.
    params = {};
    rc = io_uring_queue_init_params(entries, &ring->ring_, &params);
  }
  if (rc < 0) {
    const int err = -rc;
    std::string hint;
    if (err == EPERM || err == ENOSYS)
      hint =
          " (io_uring is blocked: check sysctl kernel.io_uring_disabled, or the container's "
          "seccomp "
          "profile, e.g. docker --security-opt seccomp=unconfined)";
    else if (err == ENOMEM)
      hint = " (raise RLIMIT_MEMLOCK, e.g. LimitMEMLOCK=infinity in the systemd unit)";
    return make_error(fmt::format("io_uring_setup failed: {}{}", std::strerror(err), hint));
  }
  return ring;
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

void Ring::submit() {
  io_uring_submit(&ring_);
  release_timespecs();
}

void Ring::release_timespecs() {
  // Only once the kernel has taken every SQE (a submit may stop short).
  if (io_uring_sq_ready(&ring_) == 0) timespecs_.clear();
}

io_uring_sqe* Ring::sqe(Completion* completion, unsigned needed) {
  if (io_uring_sq_space_left(&ring_) < needed) submit();
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {  // cannot happen after a submit, but never return null
    submit();
    s = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(s, completion);
  return s;
}

io_uring_sqe* Ring::sqe_ignored(unsigned needed) {
  io_uring_sqe* s = sqe(nullptr, needed);
  io_uring_sqe_set_data64(s, kIgnored);
  return s;
}

__kernel_timespec* Ring::timespec_for(Timeout timeout) {
  if (timeout < Timeout::zero()) timeout = Timeout::zero();
  __kernel_timespec& ts = timespecs_.emplace_back();
  ts.tv_sec = timeout.count() / 1'000'000'000;
  ts.tv_nsec = timeout.count() % 1'000'000'000;
  return &ts;
}

unsigned Ring::run_once(std::chrono::milliseconds timeout) {
  __kernel_timespec ts{};
  ts.tv_sec = timeout.count() / 1000;
  ts.tv_nsec = (timeout.count() % 1000) * 1'000'000;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout.count() >= 0 ? &ts : nullptr,
                                            nullptr);
  release_timespecs();
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
    // Nothing to dispatch; the caller's loop comes back after its timers.
    return 0;
  }
  unsigned count = 0;
  unsigned head = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++count;
    auto* completion = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
    Event event;
    event.res = cqe->res;
    event.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      event.buffer = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      if (buffers_ != nullptr) buffers_->note_taken();
    }
    // Advance before dispatching: a handler may submit and wait again.
    io_uring_cq_advance(&ring_, 1);
    if (completion != nullptr) completion->on_complete(event);
  }
  return count;
}

}  // namespace sniproxy::reactor
