#include "reactor/uring/uring_reactor.hpp"

#include <cstring>

#include "reactor/packet_info.hpp"

namespace sniproxy::reactor {

namespace {
// The provided-buffer group of a worker's ring (one ring, one group).
constexpr std::uint16_t kBufferGroup = 1;
}  // namespace

Result<std::unique_ptr<UringReactor>> UringReactor::create(const ReactorOptions& options) {
  std::unique_ptr<UringReactor> r(new UringReactor());
  auto ring = Ring::create(options.entries);
  if (!ring) return ring.error();
  r->ring_ = std::move(ring).value();
  auto buffers =
      BufferRing::create(*r->ring_, kBufferGroup, options.buffer_count, options.buffer_size);
  if (!buffers) return buffers.error();
  r->buffers_ = std::move(buffers).value();
  r->ring_->track_buffers(r->buffers_.get());
  r->datagram_layout_.msg_namelen = sizeof(sockaddr_storage);
  r->datagram_layout_.msg_controllen = kPacketInfoSpace;
  return r;
}

void UringReactor::link_timeout(io_uring_sqe* s, Timeout timeout) {
  s->flags |= IOSQE_IO_LINK;
  // The timeout's own CQE is dropped: the linked operation reports it, as
  // -ECANCELED. Room for this SQE was reserved with the first one.
  io_uring_sqe* t = ring_->sqe_ignored();
  io_uring_prep_link_timeout(t, ring_->timespec_for(timeout), 0);
}

void UringReactor::accept_multishot(int listen_fd, Completion* c) {
  io_uring_prep_multishot_accept(ring_->sqe(c), listen_fd, nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void UringReactor::recv_pooled(int fd, Completion* c) {
  io_uring_sqe* s = ring_->sqe(c);
  io_uring_prep_recv(s, fd, nullptr, buffers_->buffer_size(), 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffers_->group();
}

void UringReactor::recv(int fd, std::span<std::uint8_t> into, Completion* c) {
  io_uring_prep_recv(ring_->sqe(c), fd, into.data(), into.size(), 0);
}

void UringReactor::send(int fd, std::span<const std::uint8_t> data, Completion* c) {
  io_uring_prep_send(ring_->sqe(c), fd, data.data(), data.size(), MSG_NOSIGNAL);
}

void UringReactor::connect(int fd, const sockaddr* address, socklen_t length, Timeout timeout,
                           Completion* c) {
  io_uring_sqe* s = ring_->sqe(c, 2);
  io_uring_prep_connect(s, fd, address, length);
  link_timeout(s, timeout);
}

void UringReactor::read(int fd, std::span<std::uint8_t> into, Completion* c) {
  io_uring_prep_read(ring_->sqe(c), fd, into.data(), static_cast<unsigned>(into.size()), 0);
}

void UringReactor::poll(int fd, unsigned events, Completion* c) {
  io_uring_prep_poll_add(ring_->sqe(c), fd, events);
}

void UringReactor::poll(int fd, unsigned events, Timeout timeout, Completion* c) {
  io_uring_sqe* s = ring_->sqe(c, 2);
  io_uring_prep_poll_add(s, fd, events);
  link_timeout(s, timeout);
}

void UringReactor::poll_remove(Completion* c) {
  io_uring_prep_poll_remove(ring_->sqe_ignored(), reinterpret_cast<__u64>(c));
}

void UringReactor::timeout(Timeout after, Completion* c) {
  io_uring_sqe* s = ring_->sqe(c);
  io_uring_prep_timeout(s, ring_->timespec_for(after), 0, 0);
}

void UringReactor::cancel(Completion* c) {
  io_uring_prep_cancel(ring_->sqe_ignored(), c, 0);
}

void UringReactor::cancel_fd(int fd) {
  io_uring_prep_cancel_fd(ring_->sqe_ignored(), fd, IORING_ASYNC_CANCEL_ALL);
}

void UringReactor::recvmsg_multishot(int fd, Completion* c) {
  io_uring_sqe* s = ring_->sqe(c);
  io_uring_prep_recvmsg_multishot(s, fd, &datagram_layout_, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffers_->group();
}

std::optional<Datagram> UringReactor::datagram(const Event& event) {
  if (event.res < 0 || event.buffer < 0) return std::nullopt;
  auto buffer = buffers_->buffer(static_cast<std::uint16_t>(event.buffer));
  auto* out = io_uring_recvmsg_validate(buffer.data(), event.res, &datagram_layout_);
  if (out == nullptr) return std::nullopt;
  Datagram d;
  d.peer_length = std::min<socklen_t>(out->namelen, sizeof d.peer);
  std::memcpy(&d.peer, io_uring_recvmsg_name(out), d.peer_length);
  const auto* payload =
      static_cast<const std::uint8_t*>(io_uring_recvmsg_payload(out, &datagram_layout_));
  d.payload = {payload, io_uring_recvmsg_payload_length(out, event.res, &datagram_layout_)};
  d.truncated = (out->flags & MSG_TRUNC) != 0;
  for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(out, &datagram_layout_); c != nullptr;
       c = io_uring_recvmsg_cmsg_nexthdr(out, &datagram_layout_, c)) {
    if (auto local = destination_of(*c)) {
      d.local = *local;
      d.has_local = true;
    }
  }
  return d;
}

void UringReactor::sendmsg(int fd, const msghdr* message, Completion* c) {
  io_uring_prep_sendmsg(ring_->sqe(c), fd, message, MSG_NOSIGNAL);
}

unsigned UringReactor::run_once(std::chrono::milliseconds max_wait) {
  return ring_->run_once(max_wait);
}

}  // namespace sniproxy::reactor
