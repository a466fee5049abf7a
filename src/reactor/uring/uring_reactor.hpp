#pragma once
// The io_uring backend of reactor::Reactor: every operation is one SQE (two
// for a timed one: the operation linked to an IORING_OP_LINK_TIMEOUT), and
// pooled receives pick from a provided-buffer ring.
#include <memory>

#include "common/result.hpp"
#include "reactor/backend.hpp"
#include "reactor/reactor.hpp"
#include "reactor/uring/buffer_ring.hpp"
#include "reactor/uring/ring.hpp"

namespace sniproxy::reactor {

class UringReactor final : public Reactor {
 public:
  static Result<std::unique_ptr<UringReactor>> create(const ReactorOptions& options);

  [[nodiscard]] std::string_view backend_name() const override { return "io_uring"; }
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
  BufferPool& buffers() override { return *buffers_; }
  unsigned run_once(std::chrono::milliseconds max_wait) override;

 private:
  UringReactor() = default;
  // Links a timeout to the SQE just prepared (`s`, from sqe(c, 2)).
  void link_timeout(io_uring_sqe* s, Timeout timeout);

  std::unique_ptr<Ring> ring_;
  std::unique_ptr<BufferRing> buffers_;
  // The layout multishot recvmsg writes into each buffer: a peer address of
  // sockaddr_storage size, then room for a packet-info control message.
  msghdr datagram_layout_{};
};

}  // namespace sniproxy::reactor
