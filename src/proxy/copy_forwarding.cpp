// Copy forwarding: recv into a provided buffer, send it all, then the next
// recv. One operation per direction in flight: no reordering, and at most one
// buffer held per direction, so a slow peer stops us reading (TCP
// backpressure) instead of growing memory.
#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/connection.hpp"
#include "proxy/forwarding_choice.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

void Connection::consume_hello() {
  // The hello was only peeked: take exactly those bytes off the socket (they
  // are at its head) and forward them from our copy.
  ssize_t n = 0;
  do {
    n = ::recv(client_.get(), hello_.data(), hello_.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(hello_.size())) {
    close(observe::Outcome::reset, true, "hello vanished from the socket");
    return;
  }
  initial_.insert(initial_.end(), hello_.begin(), hello_.end());
  dirs_[0].bytes = hello_.size();  // the PROXY header is ours, not the client's
  std::vector<std::uint8_t>().swap(hello_);
}

void Connection::send_initial() {
  // The PROXY header (and in copy mode the hello) goes upstream first.
  Direction& dir = dirs_[0];
  dir.data = initial_.data();
  dir.offset = 0;
  dir.length = initial_.size();
  dir.buffer_id = -1;
  arm_send(0);
}

void Connection::arm_recv(int d) {
  Direction& dir = dirs_[d];
  dir.recv_op.handler = &Connection::on_recv;
  io_uring_sqe* s = worker_.ring().sqe(&dir.recv_op);
  io_uring_prep_recv(s, dir.from, nullptr, worker_.buffers().buffer_size(), 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = worker_.buffers().group();
  ++pending_;
}

void Connection::arm_send(int d) {
  Direction& dir = dirs_[d];
  dir.send_op.handler = &Connection::on_send;
  io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
  io_uring_prep_send(s, dir.to, dir.data + dir.offset, dir.length - dir.offset, MSG_NOSIGNAL);
  ++pending_;
}

void Connection::on_recv(int d, int res, unsigned flags) {
  Direction& dir = dirs_[d];
  if (flags & IORING_CQE_F_BUFFER) {
    worker_.buffers().note_taken();
    dir.buffer_id = static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT);
  }
  if (state_ == State::closing) {
    release_buffer(dir);
    return;
  }
  if (res == -ENOBUFS) {
    worker_.wait_for_buffer(id_, d);
    return;
  }
  if (res < 0) {
    release_buffer(dir);
    direction_failed(d, true, res);
    return;
  }
  if (res == 0) {
    release_buffer(dir);
    end_of_stream(d);
    return;
  }
  dir.data = worker_.buffers().buffer(static_cast<std::uint16_t>(dir.buffer_id)).data();
  dir.offset = 0;
  dir.length = static_cast<std::size_t>(res);
  dir.bytes += static_cast<std::uint64_t>(res);
  touch();
  arm_send(d);
}

void Connection::on_send(int d, int res, unsigned) {
  Direction& dir = dirs_[d];
  if (state_ == State::closing) {
    release_buffer(dir);
    return;
  }
  if (res < 0) {
    release_buffer(dir);
    direction_failed(d, false, res);
    return;
  }
  dir.offset += static_cast<std::size_t>(res);
  if (dir.offset < dir.length) {
    arm_send(d);  // short send: the rest, before anything newer
    return;
  }
  release_buffer(dir);
  if (d == 0 && !initial_.empty()) std::vector<std::uint8_t>().swap(initial_);
  // In splice mode only the PROXY header is sent this way; the client's
  // bytes, the hello included, follow through the pipe. In auto mode a
  // direction that has carried enough moves to splicing here, holding nothing.
  if (!dir.splice && switch_to_splice(mode_, dir.bytes)) dir.splice = true;
  if (dir.splice)
    splice_wait_readable(d);
  else
    arm_recv(d);
}

void Connection::resume_receive(int direction) {
  if (state_ == State::forwarding) arm_recv(direction);
}

void Connection::release_buffer(Direction& dir) {
  if (dir.buffer_id >= 0) {
    worker_.buffers().recycle(static_cast<std::uint16_t>(dir.buffer_id));
    dir.buffer_id = -1;
  }
}

}  // namespace sniproxy::proxy
