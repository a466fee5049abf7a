#include "pattern_sender.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <span>

namespace sniproxy::integration {

std::uint64_t PatternSender::send(int fd, std::uint64_t more, milliseconds quiet,
                                  milliseconds budget) {
  std::uint64_t taken = 0;
  auto last_progress = Clock::now();
  const auto end = Clock::now() + budget;
  while (taken < more && Clock::now() < end && Clock::now() - last_progress < quiet) {
    if (pending_ == 0) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk_.size(), more - taken));
      stream_.fill(std::span(chunk_.data(), n));
      pending_ = n;
      offset_ = 0;
    }
    const ssize_t n = ::send(fd, chunk_.data() + offset_, pending_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      taken += static_cast<std::uint64_t>(n);
      offset_ += static_cast<std::size_t>(n);
      pending_ -= static_cast<std::size_t>(n);
      last_progress = Clock::now();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 20);
  }
  return taken;
}

}  // namespace sniproxy::integration
