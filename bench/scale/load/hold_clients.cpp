#include "hold_clients.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <cstdio>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "fd_limit.hpp"
#include "net.hpp"

namespace scale_load {

namespace {

using Clock = std::chrono::steady_clock;
volatile std::sig_atomic_t g_clients_stop = 0;

// "2-9" -> {2, 9}.
std::pair<unsigned, unsigned> parse_range(const std::string& text) {
  const auto dash = text.find('-');
  const unsigned first = static_cast<unsigned>(std::stoul(text.substr(0, dash)));
  const unsigned last =
      dash == std::string::npos ? first : static_cast<unsigned>(std::stoul(text.substr(dash + 1)));
  if (first < 1 || last > 254 || last < first) proxy_load::die("bad --sources '" + text + "'");
  return {first, last};
}

// A non-blocking connect from 127.0.0.<source>; the port is chosen at
// connect time (IP_BIND_ADDRESS_NO_PORT) so ports are shared across
// destinations rather than reserved at bind.
int start_connect(const sockaddr_in& to, unsigned source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) proxy_load::die_errno("socket");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl((127u << 24) | source);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
    proxy_load::die_errno("bind 127.0.0." + std::to_string(source));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
    proxy_load::die_errno("connect from 127.0.0." + std::to_string(source));
  return fd;
}

}  // namespace

int run_hold_clients(const proxy_load::Args& args) {
  const sockaddr_in to = proxy_load::parse_loopback(args.text("to", ""));
  const std::uint64_t count = args.number("connections", 1000);
  const auto [first_source, last_source] = parse_range(args.text("sources", "2-9"));
  const unsigned names = static_cast<unsigned>(args.number("names", 8));
  const std::uint64_t batch = args.number("batch", 1000);
  proxy_load::arm_deadline(static_cast<unsigned>(args.number("seconds", 1800)));
  raise_fd_limit(count + 1024);
  args.reject_unused();
  std::signal(SIGTERM, [](int) { g_clients_stop = 1; });
  std::signal(SIGINT, [](int) { g_clients_stop = 1; });

  std::vector<proxy_load::ClientHelloMaker> makers;
  for (unsigned k = 0; k < names; ++k)
    makers.emplace_back("h" + std::to_string(k) + ".scale.test", "");

  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<epoll_event> events(1024);
  std::vector<int> held;
  held.reserve(count);
  const auto t0 = Clock::now();
  const unsigned sources = last_source - first_source + 1;
  char byte = 0;
  while (held.size() < count && !g_clients_stop) {
    const std::uint64_t n = std::min<std::uint64_t>(batch, count - held.size());
    std::uint64_t pending = n;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t index = held.size() + i;
      const int fd = start_connect(to, first_source + static_cast<unsigned>(index % sources));
      epoll_event e{};
      e.events = EPOLLOUT;  // connected: send the hello, then wait for the answer
      e.data.u64 = (static_cast<std::uint64_t>(index % names) << 32) | static_cast<unsigned>(fd);
      ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
    }
    const auto batch_deadline = Clock::now() + std::chrono::seconds(30);
    while (pending > 0) {
      if (Clock::now() > batch_deadline || g_clients_stop)
        proxy_load::die("batch not established within 30 s: " + std::to_string(pending) + " of " +
                        std::to_string(n) + " pending after " + std::to_string(held.size()) +
                        " held");
      const int ready = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < ready; ++i) {
        const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
        const auto name = static_cast<unsigned>(events[i].data.u64 >> 32);
        if (events[i].events & EPOLLOUT) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            errno = err;
            proxy_load::die_errno("connect after " + std::to_string(held.size()) + " held");
          }
          const auto& hello = makers[name].next();
          if (::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(hello.size()))
            proxy_load::die_errno("send hello");
          epoll_event e = events[i];
          e.events = EPOLLIN;
          ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &e);
          continue;
        }
        if (::recv(fd, &byte, 1, 0) != 1)
          proxy_load::die("connection closed before the backend's answer after " +
                          std::to_string(held.size()) + " held");
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr);
        held.push_back(fd);
        --pending;
      }
    }
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("held=%zu open_s=%.1f\n", held.size(), open_s);
  std::fflush(stdout);

  // Holding: watch for closes by the proxy (there should be none).
  for (int fd : held) {
    epoll_event e{};
    e.events = EPOLLRDHUP;
    e.data.u64 = static_cast<unsigned>(fd);
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
  }
  std::uint64_t lost = 0;
  while (!g_clients_stop) {
    const int ready = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < ready; ++i) {
      ::epoll_ctl(epoll, EPOLL_CTL_DEL, static_cast<int>(events[i].data.u64), nullptr);
      ++lost;
    }
  }
  std::printf("lost=%llu\n", static_cast<unsigned long long>(lost));
  for (int fd : held) ::close(fd);
  return 0;
}

}  // namespace scale_load
