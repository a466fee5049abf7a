#include "relay.hpp"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {
namespace {

// One relayed connection; each socket's epoll entry points at its side.
struct RelayPair;
struct RelaySide {
  RelayPair* pair = nullptr;
  int from = -1;
  int to = -1;
  bool ended = false;
};
struct RelayPair {
  UniqueFd client;
  UniqueFd backend;
  RelaySide sides[2];
};

void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Sends all of `data` on a non-blocking socket, waiting for room if the
// peer is slow (never with one message in flight, as in the ping-pong).
bool send_everything(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t put = ::send(fd, data, size, MSG_NOSIGNAL);
    if (put > 0) {
      data += put;
      size -= static_cast<std::size_t>(put);
      continue;
    }
    if (put < 0 && errno == EINTR) continue;
    if (put < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    return false;
  }
  return true;
}

class Relay {
 public:
  Relay(int listener, const sockaddr_in& backend)
      : listener_(listener), backend_(backend), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) die_errno("epoll_create1");
    // Every thread watches the one listener; EPOLLEXCLUSIVE wakes one of
    // them per connection rather than all (the listener is non-blocking, so
    // a thread that lost the race finds nothing and goes back to waiting).
    epoll_event event{};
    event.events = EPOLLIN | EPOLLEXCLUSIVE;
    event.data.ptr = nullptr;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &event) != 0) die_errno("epoll_ctl");
  }

  [[noreturn]] void run() {
    epoll_event events[64];
    for (;;) {
      const int n = ::epoll_wait(epoll_.get(), events, 64, -1);
      if (n < 0 && errno != EINTR) die_errno("epoll_wait");
      for (int i = 0; i < n; ++i) {
        auto* side = static_cast<RelaySide*>(events[i].data.ptr);
        if (side == nullptr)
          accept_one();
        else
          relay(*side);
      }
    }
  }

 private:
  void add(int fd, RelaySide* side) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.ptr = side;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) die_errno("epoll_ctl");
  }

  void accept_one() {
    UniqueFd client(::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC));
    // EAGAIN (another thread took it), EMFILE, ECONNABORTED...: the client
    // sees a close.
    if (!client) return;
    UniqueFd upstream = connect_blocking(backend_, std::chrono::seconds(0));
    if (!upstream) return;
    no_delay(client.get());
    no_delay(upstream.get());
    set_nonblocking(client.get());
    set_nonblocking(upstream.get());
    auto pair = std::make_unique<RelayPair>();
    pair->client = std::move(client);
    pair->backend = std::move(upstream);
    pair->sides[0] = {pair.get(), pair->client.get(), pair->backend.get(), false};
    pair->sides[1] = {pair.get(), pair->backend.get(), pair->client.get(), false};
    add(pair->client.get(), &pair->sides[0]);
    add(pair->backend.get(), &pair->sides[1]);
    pairs_.emplace(pair.get(), std::move(pair));
  }

  void relay(RelaySide& side) {
    const ssize_t got = ::recv(side.from, buffer_.data(), buffer_.size(), 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got > 0 && send_everything(side.to, buffer_.data(), static_cast<std::size_t>(got))) return;
    // EOF or an error: carry the FIN, stop watching this side.
    ::shutdown(side.to, SHUT_WR);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, side.from, nullptr);
    side.ended = true;
    RelayPair* pair = side.pair;
    if (pair->sides[0].ended && pair->sides[1].ended) pairs_.erase(pair);
  }

  int listener_;
  sockaddr_in backend_;
  UniqueFd epoll_;
  std::unordered_map<RelayPair*, std::unique_ptr<RelayPair>> pairs_;
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(std::size_t{64} * 1024);
};

}  // namespace

int run_relay(const Args& args) {
  const sockaddr_in backend = parse_loopback(args.text("to", ""));
  sockaddr_in address = parse_loopback(args.text("address", "127.0.0.1:0"));
  const auto timeout = args.number("timeout", 0);
  const auto threads = args.number("threads", 1);
  args.reject_unused();
  if (threads < 1 || threads > 64) die("relay: --threads must be 1..64");
  if (timeout > 0) arm_deadline(static_cast<unsigned>(timeout));

  UniqueFd listener = listen_on(address, 4096);
  set_nonblocking(listener.get());
  std::printf("port=%u\n", ntohs(address.sin_port));
  std::fflush(stdout);
  // Threads run until the process ends (the deadline or a signal).
  for (std::uint64_t i = 1; i < threads; ++i)
    std::thread([fd = listener.get(), backend] { Relay(fd, backend).run(); }).detach();
  Relay(listener.get(), backend).run();
}

}  // namespace proxy_load
