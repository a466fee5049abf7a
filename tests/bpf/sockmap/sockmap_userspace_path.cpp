#include "sockmap/sockmap_userspace_path.hpp"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <gtest/gtest.h>

#include "bpf/sockmap/socket_info.hpp"

namespace sniproxy::bpf::testing {

UserspacePath::UserspacePath(Sockmap& map, const SockPair& pair, Direction direction,
                             std::uint64_t cap)
    : map_(map),
      pair_(pair),
      direction_(direction),
      cap_(cap),
      source_(direction == Direction::client_to_backend ? pair.client_fd : pair.backend_fd),
      peer_(direction == Direction::client_to_backend ? pair.backend_fd : pair.client_fd),
      buffer_(1 << 18) {}

bool UserspacePath::step() {
  auto state = map_.state(pair_, direction_);
  auto control = map_.control(pair_, direction_);
  if (!state.ok() || !control.ok()) {
    ADD_FAILURE() << (state.ok() ? control.error().message : state.error().message);
    return false;
  }
  if (state->passed > control->consumed && !move_passed(*state, *control)) return false;
  return adjust_limit(*state, *control);
}

bool UserspacePath::move_passed(ForwardState& state, ForwardControl& control) {
  // The kernel resumes only when passed == consumed at the moment it judges
  // the next skb, so catch up as far as possible in one go rather than one
  // buffer per step; bounded, so that a sender faster than this loop cannot
  // keep it here.
  constexpr int kMaxRounds = 64;
  for (int round = 0; round < kMaxRounds && state.passed > control.consumed; ++round) {
    // Duty 1: redirected bytes come first; wait until none is left queued.
    auto unflushed = map_.unflushed(pair_, direction_);
    if (!unflushed.ok()) {
      ADD_FAILURE() << unflushed.error().message;
      return false;
    }
    if (*unflushed != 0) {
      ++waits_;
      return true;
    }
    // Duty 2: recv what was passed (no more can be readable), send it all,
    // then report it. EAGAIN: the kernel counted the bytes but still has
    // them on its backlog queue; they come with a later step.
    // Only what SIOCINQ shows in the psock's queue: with that queue empty a
    // recv() may read unjudged bytes from the TCP receive queue (the proxy
    // saw them overtake passed ones when both directions were busy).
    int readable = 0;
    if (::ioctl(source_, SIOCINQ, &readable) != 0 || readable <= 0) return true;
    std::size_t want = std::min<std::uint64_t>(
        {buffer_.size(), state.passed - control.consumed, static_cast<std::uint64_t>(readable)});
    ssize_t got = ::recv(source_, buffer_.data(), want, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (got <= 0) {
      ADD_FAILURE() << "recv of passed bytes: " << (got == 0 ? "EOF" : std::strerror(errno));
      return false;
    }
    if (!send_all(static_cast<std::size_t>(got))) return false;
    moved_ += static_cast<std::uint64_t>(got);
    control.consumed += static_cast<std::uint64_t>(got);
    auto written = map_.set_control(pair_, direction_, control);
    if (!written.ok()) {
      ADD_FAILURE() << written.error().message;
      return false;
    }
    auto now = map_.state(pair_, direction_);
    if (!now.ok()) {
      ADD_FAILURE() << now.error().message;
      return false;
    }
    state = *now;
  }
  return true;
}

bool UserspacePath::send_all(std::size_t size) {
  // Bounded in time: the test's backend reader keeps draining the peer.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (std::size_t sent_total = 0; sent_total < size;) {
    ssize_t sent =
        ::send(peer_, buffer_.data() + sent_total, size - sent_total, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "send of passed bytes: the peer stayed full for 10 s";
        return false;
      }
      pollfd writable{peer_, POLLOUT, 0};
      ::poll(&writable, 1, 100);
      continue;
    }
    if (sent <= 0) {
      ADD_FAILURE() << "send of passed bytes: " << std::strerror(errno);
      return false;
    }
    sent_total += static_cast<std::size_t>(sent);
  }
  return true;
}

bool UserspacePath::adjust_limit(const ForwardState& state, ForwardControl& control) {
  // Duty 1: let the kernel queue up to cap beyond what the psock queue holds.
  auto unflushed = map_.unflushed(pair_, direction_);
  if (!unflushed.ok()) {
    ADD_FAILURE() << unflushed.error().message;
    return false;
  }
  if (state.passed != control.consumed) return true;
  std::uint64_t limit = resume_limit(state.redirected, cap_, *unflushed);
  if (limit <= control.limit) return true;
  control.limit = limit;
  auto written = map_.set_control(pair_, direction_, control);
  if (!written.ok()) {
    ADD_FAILURE() << written.error().message;
    return false;
  }
  if (state.over) {
    if (resumes_++ == 0) first_resume_at_ = state.redirected;
  } else {
    ++raises_;
  }
  return true;
}

}  // namespace sniproxy::bpf::testing
