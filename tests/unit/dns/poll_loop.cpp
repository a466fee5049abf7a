#include "poll_loop.hpp"

#include <poll.h>

#include <algorithm>

#include "fake_dns_server.hpp"

namespace sniproxy::dns::testing {

void PollLoop::watch(int fd, bool readable, bool writable) {
  if (!readable && !writable) {
    ++stop_watch_calls_;
    watches_.erase(fd);
    return;
  }
  watches_[fd] = Interest{readable, writable};
}

void PollLoop::arm_timer(std::chrono::milliseconds delay) {
  timer_deadline_ = RealClock::now() + delay;
}

bool PollLoop::run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = RealClock::now() + limit;
  while (!done()) {
    if (RealClock::now() >= end) return false;
    poll_once(end);
  }
  return true;
}

void PollLoop::run_for(std::chrono::milliseconds duration) {
  const auto end = RealClock::now() + duration;
  while (RealClock::now() < end) poll_once(end);
}

void PollLoop::poll_once(RealClock::time_point end) {
  std::vector<pollfd> fds;
  for (FakeDnsServer* s : servers_) fds.push_back(pollfd{s->fd(), POLLIN, 0});
  for (const auto& [fd, interest] : watches_) {
    const short events =
        static_cast<short>((interest.readable ? POLLIN : 0) | (interest.writable ? POLLOUT : 0));
    fds.push_back(pollfd{fd, events, 0});
  }
  auto wake = end;
  if (timer_deadline_) wake = std::min(wake, *timer_deadline_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - RealClock::now());
  const int timeout = static_cast<int>(std::max<long>(wait.count(), 0));
  if (::poll(fds.data(), fds.size(), timeout) < 0) return;

  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    if (i < servers_.size()) {
      servers_[i]->serve_pending();
      continue;
    }
    // The resolver may have stopped watching this fd while handling another.
    if (!watches_.contains(fds[i].fd) || resolver_ == nullptr) continue;
    resolver_->on_fd_ready(fds[i].fd, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0,
                           (fds[i].revents & POLLOUT) != 0);
  }
  if (timer_deadline_ && RealClock::now() >= *timer_deadline_) {
    timer_deadline_.reset();
    if (resolver_ != nullptr) resolver_->on_timer();
  }
}

}  // namespace sniproxy::dns::testing
