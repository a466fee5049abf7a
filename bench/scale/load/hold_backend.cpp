#include "hold_backend.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <cstdio>
#include <sstream>
#include <unordered_set>
#include <vector>

#include "fail.hpp"
#include "fd_limit.hpp"
#include "net.hpp"

namespace scale_load {

namespace {

volatile std::sig_atomic_t g_backend_stop = 0;
volatile std::sig_atomic_t g_backend_report = 0;

std::vector<std::string> split(const std::string& text, char by) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, by);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

}  // namespace

int run_hold_backend(const proxy_load::Args& args) {
  const auto addresses = split(args.text("listen", ""), ',');
  proxy_load::arm_deadline(static_cast<unsigned>(args.number("seconds", 1800)));
  raise_fd_limit(args.number("max-fds", 400'000));
  args.reject_unused();
  if (addresses.empty()) proxy_load::die("--listen needs at least one address");
  std::signal(SIGTERM, [](int) { g_backend_stop = 1; });
  std::signal(SIGINT, [](int) { g_backend_stop = 1; });
  std::signal(SIGUSR1, [](int) { g_backend_report = 1; });

  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::unordered_set<int> listeners;
  for (const auto& a : addresses) {
    sockaddr_in at = proxy_load::parse_loopback(a);
    int fd = proxy_load::listen_on(at, 65535).release();
    proxy_load::set_nonblocking(fd);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
    listeners.insert(fd);
  }
  std::printf("listening\n");
  std::fflush(stdout);

  // Per connection: whether it has been answered (the descriptor is the key).
  std::vector<bool> answered;
  std::uint64_t held = 0;
  std::vector<epoll_event> events(1024);
  char buf[4096];
  while (!g_backend_stop) {
    if (g_backend_report) {
      g_backend_report = 0;
      std::printf("held=%llu\n", static_cast<unsigned long long>(held));
      std::fflush(stdout);
    }
    const int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (listeners.contains(fd)) {
        while (true) {
          const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          if (static_cast<std::size_t>(c) >= answered.size()) answered.resize(c + 1024);
          answered[c] = false;
          epoll_event e{};
          e.events = EPOLLIN | EPOLLRDHUP;
          e.data.fd = c;
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, c, &e);
          ++held;
        }
        continue;
      }
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got > 0) {
        if (!answered[fd]) {
          answered[fd] = true;
          const char one = 'x';
          ::send(fd, &one, 1, MSG_NOSIGNAL);
        }
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      ::close(fd);  // closing removes it from the epoll set
      --held;
    }
  }
  std::printf("held=%llu\n", static_cast<unsigned long long>(held));
  return 0;
}

}  // namespace scale_load
