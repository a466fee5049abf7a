#pragma once
// The event loop of one worker thread, as operations: the proxy asks for an
// accept, a receive, a send, a connect, a poll or a timeout on a descriptor,
// and the reactor calls the operation's Completion when it is done. This is
// the whole vocabulary the proxy and the admin server use; only the backends
// (uring/ today) know how the kernel is asked. The contract is a completion
// model (as io_uring's), so that a readiness backend (epoll) can deliver the
// same events by waiting for readiness and then making the call itself.
//
// Rules every backend keeps:
// - One Completion per operation in flight (a multishot accept or receive
//   stays one operation until an Event with `more == false`).
// - A completion is never called from inside the call that started the
//   operation: only from run_once().
// - Memory passed in (buffers, addresses, msghdr) stays the caller's and
//   must outlive the operation.
// - A timed operation that runs out completes with -ECANCELED; a cancelled
//   one completes with -ECANCELED too (or with its result, if it won the
//   race), never not at all.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sniproxy::reactor {

// What one operation produced.
struct Event {
  int res = 0;        // >= 0: bytes, a new fd, or poll(2) revents; < 0: -errno
  int buffer = -1;    // the pool buffer a pooled receive filled, or -1
  bool more = false;  // a multishot operation is still armed after this one
};

class Completion {
 public:
  virtual void on_complete(const Event& event) = 0;

 protected:
  ~Completion() = default;
};

// Receive buffers the reactor picks from when a pooled receive has data (no
// buffer is held by an idle connection). A consumer hands each buffer back
// with recycle() once it is done with the bytes.
class BufferPool {
 public:
  virtual ~BufferPool() = default;
  [[nodiscard]] virtual std::uint32_t buffer_size() const = 0;
  virtual std::span<std::uint8_t> buffer(std::uint16_t id) = 0;
  virtual void recycle(std::uint16_t id) = 0;
  // Buffers free right now; a pooled receive that finds none completes with
  // -ENOBUFS.
  [[nodiscard]] virtual std::uint32_t available() const = 0;
};

// A datagram that a pooled multishot recvmsg delivered into a pool buffer.
struct Datagram {
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  std::span<const std::uint8_t> payload;
  bool truncated = false;  // larger than the buffer: the tail was dropped
  // The address the datagram was sent to (port 0: the socket's own), on a
  // socket that asked for it with request_packet_info() (packet_info.hpp).
  sockaddr_storage local{};
  bool has_local = false;
};

using Timeout = std::chrono::nanoseconds;

class Reactor {
 public:
  virtual ~Reactor() = default;

  // "io_uring" or "epoll", for logs, /status and /metrics.
  [[nodiscard]] virtual std::string_view backend_name() const = 0;

  // Accepts on `listen_fd` until cancelled or an error: one Event per client
  // (res = the new non-blocking, close-on-exec fd).
  virtual void accept_multishot(int listen_fd, Completion* c) = 0;
  // One receive into a buffer of buffers(): Event::buffer names it.
  virtual void recv_pooled(int fd, Completion* c) = 0;
  // One receive into `into`.
  virtual void recv(int fd, std::span<std::uint8_t> into, Completion* c) = 0;
  // One send (MSG_NOSIGNAL); res is what was sent, possibly short.
  virtual void send(int fd, std::span<const std::uint8_t> data, Completion* c) = 0;
  // Connects a non-blocking socket; -ECANCELED when `timeout` ran out first.
  virtual void connect(int fd, const sockaddr* address, socklen_t length, Timeout timeout,
                       Completion* c) = 0;
  // One read(2), for eventfds and the like.
  virtual void read(int fd, std::span<std::uint8_t> into, Completion* c) = 0;
  // Waits once for `events` (POLLIN, POLLOUT, POLLRDHUP...); res = revents.
  virtual void poll(int fd, unsigned events, Completion* c) = 0;
  // The same, ending with -ECANCELED when `timeout` runs out first.
  virtual void poll(int fd, unsigned events, Timeout timeout, Completion* c) = 0;
  // Ends the poll of `c`: it completes with -ECANCELED (or its revents).
  virtual void poll_remove(Completion* c) = 0;
  // Completes with -ETIME after `after` (-ECANCELED if cancelled first).
  virtual void timeout(Timeout after, Completion* c) = 0;
  // Ends the operation of `c` early, whatever it is.
  virtual void cancel(Completion* c) = 0;
  // Ends every operation on `fd`.
  virtual void cancel_fd(int fd) = 0;

  // Datagrams. Receives on `fd` until cancelled or an error, each datagram
  // into a pool buffer (read it with datagram()).
  virtual void recvmsg_multishot(int fd, Completion* c) = 0;
  // The datagram an Event of recvmsg_multishot carries; nullopt for an
  // Event without one (an error, or a malformed buffer).
  virtual std::optional<Datagram> datagram(const Event& event) = 0;
  // One sendmsg(2) (MSG_NOSIGNAL).
  virtual void sendmsg(int fd, const msghdr* message, Completion* c) = 0;

  virtual BufferPool& buffers() = 0;

  // Starts what was asked for, waits up to `max_wait` for at least one
  // completion, and delivers every completion that is ready. Returns how
  // many were delivered.
  virtual unsigned run_once(std::chrono::milliseconds max_wait) = 0;
};

}  // namespace sniproxy::reactor
