#pragma once
// The epoll backend of reactor::Reactor, for hosts where io_uring is blocked
// (container seccomp profiles, kernel.io_uring_disabled). It delivers the
// same completions by waiting for readiness and then making the call itself:
// each operation waits on its descriptor (one EPOLLONESHOT registration per
// descriptor, armed with the union of what its operations wait for), sends
// and connects are tried at once, timeouts come from a deadline heap, and
// pooled receives take from a HeapBufferPool with the ring's bound.
//
// Beyond the interface's rules: every operation on a descriptor must have
// ended (cancel_fd) before the descriptor is closed, since epoll forgets a
// closed descriptor and its operations would never complete. The proxy
// closes that way on both backends.
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "reactor/backend.hpp"
#include "reactor/epoll/heap_buffer_pool.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::reactor {

class EpollReactor final : public Reactor {
 public:
  static Result<std::unique_ptr<EpollReactor>> create(const ReactorOptions& options);

  [[nodiscard]] std::string_view backend_name() const override { return "epoll"; }
  void accept_multishot(int listen_fd, Completion* c) override;
  void recv_pooled(int fd, Completion* c) override;
  void recv(int fd, std::span<std::uint8_t> into, Completion* c) override;
  void send(int fd, std::span<const std::uint8_t> data, Completion* c) override;
  void connect(int fd, const sockaddr* address, socklen_t length, Timeout timeout,
               Completion* c) override;
  void read(int fd, std::span<std::uint8_t> into, Completion* c) override;
  void poll(int fd, unsigned events, Completion* c) override;
  void poll(int fd, unsigned events, Timeout timeout, Completion* c) override;
  void poll_remove(Completion* c) override;
  void timeout(Timeout after, Completion* c) override;
  void cancel(Completion* c) override;
  void cancel_fd(int fd) override;
  void recvmsg_multishot(int fd, Completion* c) override;
  std::optional<Datagram> datagram(const Event& event) override;
  void sendmsg(int fd, const msghdr* message, Completion* c) override;
  BufferPool& buffers() override { return buffers_; }
  unsigned run_once(std::chrono::milliseconds max_wait) override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Kind : std::uint8_t {
    accept,
    recv_pooled,
    recv,
    send,
    connect,
    read,
    poll,
    timeout,
    recvmsg,
    sendmsg,
  };
  struct Op {
    Kind kind = Kind::poll;
    int fd = -1;               // -1: a timeout, waiting on no descriptor
    std::uint32_t events = 0;  // the readiness it waits for
    std::uint64_t serial = 0;  // tells a live deadline from a stale one
    std::span<std::uint8_t> into{};
    std::span<const std::uint8_t> data{};
    const msghdr* message = nullptr;
  };
  struct Waiters {
    std::vector<Completion*> ops;  // in the order they were started
    std::uint32_t armed = 0;       // the registered mask; 0 once it fired
  };
  struct Deadline {
    Clock::time_point when;
    std::uint64_t serial;
    Completion* c;
    bool operator>(const Deadline& o) const { return when > o.when; }
  };

  EpollReactor(UniqueFd epoll, std::uint32_t buffer_count, std::uint32_t buffer_size);

  // Registers `op` for `c` and waits on its descriptor (if any).
  Op& start(Completion* c, Op op);
  void set_deadline(Completion* c, const Op& op, Timeout after);
  // Ends the operation of `c` with `event` (delivered by run_once).
  void finish(Completion* c, Event event);
  void deliver_later(Completion* c, Event event) { ready_.emplace_back(c, event); }
  void forget_waiter(int fd, Completion* c);
  [[nodiscard]] bool has_write_waiting(int fd) const;
  // The call an operation waits to make. False: it would block, keep
  // waiting. (Multishot ones queue an Event per result.)
  bool attempt(Completion* c, Op& op, std::uint32_t revents);
  bool attempt_accept(Completion* c, const Op& op);
  bool attempt_recvmsg(Completion* c, const Op& op);
  void on_ready(int fd, std::uint32_t revents);
  void arm_waiting();
  void expire_deadlines(Clock::time_point now);
  [[nodiscard]] int wait_ms(std::chrono::milliseconds max_wait, Clock::time_point now) const;

  UniqueFd epoll_;
  HeapBufferPool buffers_;
  std::uint64_t next_serial_ = 1;
  std::unordered_map<Completion*, Op> ops_;
  std::unordered_map<int, Waiters> waiters_;
  std::vector<int> to_arm_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  std::vector<std::pair<Completion*, Event>> ready_;
  std::vector<std::pair<Completion*, Event>> delivering_;  // kept for its capacity
  std::vector<epoll_event> events_;
};

}  // namespace sniproxy::reactor
