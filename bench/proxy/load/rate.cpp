#include "rate.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client_hello.hpp"
#include "fail.hpp"
#include "net.hpp"

namespace proxy_load {

namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  UniqueFd fd;
  enum class Phase { idle, sending, reading, closing } phase = Phase::idle;
  std::vector<std::uint8_t> hello;  // fresh secrets per connection, like a real client
  std::size_t hello_sent = 0;
  std::size_t response_read = 0;
  Clock::time_point started;
};

class RateRun {
 public:
  explicit RateRun(const Args& args)
      : to_(parse_loopback(args.text("to", ""))),
        total_(args.number("connections", 10000)),
        slots_(args.number("concurrency", 32)),
        response_bytes_(args.number("response-bytes", 64)),
        connect_timeout_(std::chrono::seconds(args.number("connect-timeout", 5))),
        wait_close_(args.number("wait-close", 0) != 0),
        maker_(args.text("sni", "reply.bench.test"), args.text("alpn", "")) {
    if (slots_.empty() || slots_.size() > 65536) die("--concurrency: 1..65536");
    if (response_bytes_ == 0) die("--response-bytes must be positive");
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) die_errno("epoll_create1");
  }

  int run() {
    const auto start = Clock::now();
    for (std::size_t i = 0; i < slots_.size(); ++i) open(i);
    std::vector<epoll_event> events(slots_.size());
    auto next_sweep = Clock::now() + std::chrono::milliseconds(100);
    while (done_ < total_) {
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 100);
      if (n < 0 && errno != EINTR) die_errno("epoll_wait");
      for (int i = 0; i < n; ++i) step(events[i].data.u32, events[i].events);
      if (Clock::now() >= next_sweep) {
        expire_stuck();
        next_sweep = Clock::now() + std::chrono::milliseconds(100);
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed_ > 0)
      std::fprintf(stderr, "proxy_load: rate: %llu of %llu connections failed, first: %s\n",
                   static_cast<unsigned long long>(failed_),
                   static_cast<unsigned long long>(total_), first_error_.c_str());
    std::printf("connections=%llu failed=%llu seconds=%.4f cps=%.1f\n",
                static_cast<unsigned long long>(total_), static_cast<unsigned long long>(failed_),
                seconds, static_cast<double>(total_ - failed_) / seconds);
    return failed_ == 0 ? 0 : 1;
  }

 private:
  // Starts the next connection in slot `index`; one that fails at once is
  // counted and the next tried, in a loop rather than by recursion.
  void open(std::size_t index) {
    while (started_ < total_) {
      ++started_;
      std::string error = start(slots_[index], static_cast<std::uint32_t>(index));
      if (error.empty()) return;
      slots_[index].fd.reset();
      note_failure(error);
      ++done_;
    }
  }

  // Returns an error message, empty on success.
  std::string start(Slot& s, std::uint32_t index) {
    s = Slot{};
    s.started = Clock::now();
    s.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.fd) return std::string("socket: ") + std::strerror(errno);
    if (::connect(s.fd.get(), reinterpret_cast<const sockaddr*>(&to_), sizeof to_) != 0 &&
        errno != EINPROGRESS)
      return std::string("connect: ") + std::strerror(errno);
    // A loopback connect usually completes at once; the hello is written as
    // soon as the socket is writable either way.
    s.phase = Slot::Phase::sending;
    s.hello = maker_.next();
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = index;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) != 0) die_errno("epoll_ctl");
    return {};
  }

  void step(std::uint32_t index, std::uint32_t events) {
    Slot& s = slots_[index];
    if (s.phase == Slot::Phase::sending) {
      int error = 0;
      socklen_t len = sizeof error;
      ::getsockopt(s.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) return fail(index, std::string("connect: ") + std::strerror(error));
      const ssize_t put = ::send(s.fd.get(), s.hello.data() + s.hello_sent,
                                 s.hello.size() - s.hello_sent, MSG_NOSIGNAL);
      if (put < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (put < 0) return fail(index, std::string("send: ") + std::strerror(errno));
      s.hello_sent += static_cast<std::size_t>(put);
      if (s.hello_sent < s.hello.size()) return;
      s.phase = Slot::Phase::reading;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = index;
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.fd.get(), &ev) != 0) die_errno("epoll_ctl");
      return;
    }
    if (s.phase != Slot::Phase::reading && s.phase != Slot::Phase::closing) return;
    std::uint8_t buffer[4096];
    const ssize_t got = ::recv(s.fd.get(), buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got < 0) return fail(index, std::string("recv: ") + std::strerror(errno));
    if (s.phase == Slot::Phase::closing) {
      if (got == 0) return complete(index);
      return fail(index, "bytes after the response");
    }
    if (got == 0)
      return fail(index, "closed after " + std::to_string(s.response_read) + " response bytes" +
                             ((events & EPOLLERR) ? " (error)" : ""));
    s.response_read += static_cast<std::size_t>(got);
    if (s.response_read < response_bytes_) return;
    if (!wait_close_) return complete(index);
    // Done only once the close has come back through the proxy: our FIN
    // reaches the backend, which closes, and its FIN reaches us.
    if (::shutdown(s.fd.get(), SHUT_WR) != 0)
      return fail(index, std::string("shutdown: ") + std::strerror(errno));
    s.phase = Slot::Phase::closing;
  }

  void complete(std::size_t index) {
    slots_[index].fd.reset();
    ++done_;
    if (started_ < total_) open(index);
  }

  void fail(std::size_t index, const std::string& why) {
    note_failure(why);
    complete(index);
  }

  void note_failure(const std::string& why) {
    if (failed_++ == 0) first_error_ = why;
  }

  void expire_stuck() {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].fd && now - slots_[i].started > connect_timeout_)
        fail(i, "no complete response within --connect-timeout");
  }

  sockaddr_in to_;
  std::uint64_t total_;
  std::vector<Slot> slots_;
  std::size_t response_bytes_;
  Clock::duration connect_timeout_;
  bool wait_close_;
  ClientHelloMaker maker_;
  UniqueFd epoll_;
  std::uint64_t started_ = 0;
  std::uint64_t done_ = 0;
  std::uint64_t failed_ = 0;
  std::string first_error_;
};

}  // namespace

int run_rate(const Args& args) {
  arm_deadline(static_cast<unsigned>(args.number("timeout", 300)));
  RateRun run(args);
  args.reject_unused();
  return run.run();
}

}  // namespace proxy_load
