#include "backend.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {

namespace {

struct Settings {
  bool reply = false;
  bool echo = false;             // after the hello, every byte goes back (ping-pong)
  bool end_after_reply = false;  // reply mode: the FIN right behind the answer
  std::size_t reply_bytes = 64;
};

struct Connection {
  UniqueFd fd;
  HelloFramer hello;
  std::uint64_t received = 0;
};

class Loop {
 public:
  Loop(int listener, const Settings& settings)
      : listener_(listener), settings_(settings), reply_(settings.reply_bytes, 0x16) {
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) die_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listener_;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_, &ev) != 0) die_errno("epoll_ctl");
  }

  [[noreturn]] void run() {
    std::vector<epoll_event> events(128);
    while (true) {
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die_errno("epoll_wait");
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == listener_) {
          accept_all();
        } else {
          serve(events[i].data.fd);
        }
      }
    }
  }

 private:
  void accept_all() {
    while (true) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: another loop took it, or none left
      auto c = std::make_unique<Connection>();
      c->fd = UniqueFd(fd);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl add");
      connections_[fd] = std::move(c);
    }
  }

  void serve(int fd) {
    const auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    // A bounded number of reads per wake-up keeps one bulk stream from
    // starving the loop's other connections.
    for (int reads = 0; reads < 16; ++reads) {
      const ssize_t got = ::recv(fd, buffer_.data(), buffer_.size(), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (got <= 0) {
        finish(c, got == 0);
        connections_.erase(it);  // closes the socket
        return;
      }
      c.received += static_cast<std::uint64_t>(got);
      std::size_t hello_part = 0;
      if (!c.hello.complete()) {
        hello_part = c.hello.feed(buffer_.data(), static_cast<std::size_t>(got));
        if (c.hello.complete() && settings_.reply) answer(c);
      }
      // One message in flight per connection: its echo always fits the
      // socket's send buffer.
      const auto rest = static_cast<std::size_t>(got) - hello_part;
      if (settings_.echo && c.hello.complete() && rest > 0 &&
          !send_all(fd, buffer_.data() + hello_part, rest))
        ::shutdown(fd, SHUT_RDWR);
    }
  }

  void answer(Connection& c) {
    // A fresh socket's send buffer always has room for a small reply; a
    // short send would mean something is badly wrong, so it just closes.
    if (!send_all(c.fd.get(), reply_.data(), reply_.size())) ::shutdown(c.fd.get(), SHUT_RDWR);
    // Like a server that closes after its response: the FIN follows at once.
    else if (settings_.end_after_reply)
      ::shutdown(c.fd.get(), SHUT_WR);
  }

  void finish(Connection& c, bool clean_eof) {
    if (!clean_eof || settings_.reply || settings_.echo) return;
    std::uint8_t count[8];
    for (int i = 0; i < 8; ++i) count[i] = static_cast<std::uint8_t>(c.received >> (8 * i));
    send_all(c.fd.get(), count, sizeof count);
  }

  int listener_;
  Settings settings_;
  std::vector<std::uint8_t> reply_;  // the answer's bytes do not matter to a proxy
  UniqueFd epoll_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(1 << 20);
};

}  // namespace

int run_backend(const Args& args) {
  Settings settings;
  const std::string mode = args.text("mode", "count");
  if (mode != "count" && mode != "reply" && mode != "echo") die("--mode is count, reply or echo");
  settings.reply = mode == "reply";
  settings.echo = mode == "echo";
  settings.reply_bytes = args.number("reply-bytes", 64);
  settings.end_after_reply = args.number("end-after-reply", 0) != 0;
  if (settings.reply_bytes == 0 || settings.reply_bytes > 65536) die("--reply-bytes: 1..65536");
  sockaddr_in address = parse_loopback(args.text("address", "127.0.0.1:0"));
  const auto threads = args.number("threads", 2);
  const auto timeout = args.number("timeout", 0);
  args.reject_unused();
  if (threads == 0 || threads > 64) die("--threads: 1..64");
  if (timeout > 0) arm_deadline(static_cast<unsigned>(timeout));

  UniqueFd listener = listen_on(address, 4096);
  set_nonblocking(listener.get());
  std::printf("port=%u\n", ntohs(address.sin_port));
  std::fflush(stdout);
  std::vector<std::thread> loops;
  for (std::uint64_t i = 0; i < threads; ++i)
    loops.emplace_back([&] { Loop(listener.get(), settings).run(); });
  for (auto& t : loops) t.join();
  return 0;
}

}  // namespace proxy_load
