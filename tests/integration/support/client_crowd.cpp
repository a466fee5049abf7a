#include "client_crowd.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace sniproxy::integration {

namespace {

// A socket bound to source:0 with a non-blocking connect under way, or an
// invalid fd with errno set.
UniqueFd start_connect(const IpAddress& source, const Endpoint& to) {
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  // Choose the port at connect, by the whole 4-tuple, not at bind: a bind to
  // port 0 reserves a port for every destination and runs out (EADDRINUSE)
  // after the crowds of earlier tests.
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_storage from{};
  const unsigned from_len = Endpoint{source, 0}.to_sockaddr(from);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), from_len) != 0) return UniqueFd();
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return UniqueFd();
  return fd;
}

bool connected(int fd) {
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  return err == 0;
}

}  // namespace

UniqueFd begin_connect(const IpAddress& source, const Endpoint& to) {
  return start_connect(source, to);
}

ConnectResult connect_from(const IpAddress& source, const Endpoint& to, Deadline deadline) {
  UniqueFd fd = start_connect(source, to);
  if (!fd) return {UniqueFd(), errno};
  return await_connected(std::move(fd), deadline);
}

std::vector<CrowdMember> open_crowd(const Endpoint& to, std::size_t count, Deadline deadline,
                                    IpAddress source, std::size_t batch) {
  std::vector<CrowdMember> crowd;
  crowd.reserve(count);
  while (crowd.size() < count && !deadline.expired()) {
    const std::size_t n = std::min(batch, count - crowd.size());
    std::vector<pollfd> pending;
    std::vector<UniqueFd> fds;
    for (std::size_t i = 0; i < n; ++i) {
      UniqueFd fd = start_connect(source, to);
      if (!fd) return crowd;
      pending.push_back(pollfd{fd.get(), POLLOUT, 0});
      fds.push_back(std::move(fd));
    }
    // Wait for the whole batch: loopback connects complete within
    // microseconds unless the backlog is full, when one SYN waits a second
    // for its retransmit. Each member's time is when its own connect was
    // seen done, not the batch's: the proxy's hello deadline for the early
    // ones is already running while the batch waits.
    std::vector<Clock::time_point> connected_at(pending.size());
    std::size_t done = 0;
    while (done < pending.size() && !deadline.expired()) {
      const int ready = ::poll(pending.data(), pending.size(), deadline.poll_timeout_ms());
      if (ready < 0 && errno != EINTR) return crowd;
      const auto now = Clock::now();
      for (std::size_t i = 0; i < pending.size(); ++i) {
        pollfd& p = pending[i];
        if (p.fd >= 0 && p.revents != 0) {
          p.fd = -p.fd - 1;  // ignored by poll from now on
          connected_at[i] = now;
          ++done;
        }
      }
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!connected(fds[i].get())) return crowd;
      crowd.push_back(CrowdMember{std::move(fds[i]), connected_at[i]});
    }
    if (done < pending.size()) return crowd;
  }
  return crowd;
}

std::size_t mark_closed(std::vector<CrowdMember>& crowd, int timeout_ms) {
  std::vector<pollfd> open;
  std::vector<std::size_t> index;
  std::size_t closed = 0;
  for (std::size_t i = 0; i < crowd.size(); ++i) {
    if (crowd[i].closed_at != Clock::time_point{}) {
      ++closed;
      continue;
    }
    open.push_back(pollfd{crowd[i].fd.get(), POLLIN | POLLRDHUP, 0});
    index.push_back(i);
  }
  if (open.empty()) return closed;
  if (::poll(open.data(), open.size(), timeout_ms) <= 0) return closed;
  const auto now = Clock::now();
  for (std::size_t k = 0; k < open.size(); ++k) {
    if (open[k].revents == 0) continue;
    char byte = 0;
    // Anything readable is the end: the proxy sends nothing before a hello.
    const ssize_t n = ::recv(open[k].fd, &byte, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (open[k].revents & POLLERR)) {
      crowd[index[k]].closed_at = now;
      ++closed;
    }
  }
  return closed;
}

std::size_t wait_crowd_closed(std::vector<CrowdMember>& crowd, Deadline deadline) {
  return wait_crowd_closed(crowd, deadline, [] {});
}

}  // namespace sniproxy::integration
