#include "proxy/forward/copy_forwarder.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sniproxy::proxy::forward {

CopyForwarder::CopyForwarder(Host& host, int from, int to, CopyOptions options)
    : host_(host), from_(from), to_(to), options_(std::move(options)) {}

void CopyForwarder::start() {
  if (options_.preamble.empty()) {
    arm_recv();
    return;
  }
  bytes_ = options_.preamble_from_source;
  data_ = options_.preamble.data();
  offset_ = 0;
  length_ = options_.preamble.size();
  arm_send();
}

void CopyForwarder::arm_recv() {
  recv_op_ = host_.begin(Side::source);
  host_.reactor().recv_pooled(from_, recv_op_);
}

void CopyForwarder::arm_send() {
  sending_ = true;
  host_.reactor().send(to_, {data_ + offset_, length_ - offset_}, host_.begin(Side::peer));
}

void CopyForwarder::on_complete(Side side, const reactor::Event& event) {
  if (side == Side::source)
    on_recv(event);
  else
    on_sent(event);
}

void CopyForwarder::on_recv(const reactor::Event& event) {
  recv_op_ = nullptr;
  if (event.buffer >= 0) buffer_ = event.buffer;
  if (host_.closing() || stopped_) {
    release_buffer();
    return;
  }
  if (event.res == -ENOBUFS || event.res == -ECANCELED) {
    received_nothing(event.res);
    return;
  }
  if (event.res < 0) {
    release_buffer();
    host_.failed(true, event.res);
    return;
  }
  if (event.res == 0) {
    release_buffer();
    host_.end_of_stream();
    return;
  }
  data_ = host_.reactor().buffers().buffer(static_cast<std::uint16_t>(buffer_)).data();
  offset_ = 0;
  length_ = static_cast<std::size_t>(event.res);
  bytes_ += static_cast<std::uint64_t>(event.res);
  const bool filled = length_ == host_.reactor().buffers().buffer_size();
  if (filled)
    ++full_reads_;
  else
    full_reads_ = 0;
  host_.received(filled);
  host_.active();
  send_now();
}

// A message usually fits the peer socket's buffer: sent here, on the worker
// thread, it costs one send(2) instead of a trip through the reactor (its
// submission and its completion) before the next receive is armed. Only
// what does not fit waits for the reactor.
void CopyForwarder::send_now() {
  ssize_t n = 0;
  do {
    n = ::send(to_, data_ + offset_, length_ - offset_, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    release_buffer();
    host_.failed(false, -errno);
    return;
  }
  if (n > 0) offset_ += static_cast<std::size_t>(n);
  if (offset_ < length_) {
    arm_send();
    return;
  }
  sent_all();
}

void CopyForwarder::on_sent(const reactor::Event& event) {
  sending_ = false;
  if (host_.closing() || stopped_) {
    release_buffer();
    return;
  }
  if (event.res < 0) {
    release_buffer();
    host_.failed(false, event.res);
    return;
  }
  offset_ += static_cast<std::size_t>(event.res);
  if (offset_ < length_) {
    arm_send();  // short send: the rest, before anything newer
    return;
  }
  sent_all();
}

void CopyForwarder::sent_all() {
  release_buffer();
  if (!options_.preamble.empty()) std::vector<std::uint8_t>().swap(options_.preamble);
  // Between a completed send and the next receive the direction holds no
  // bytes, so handing it to splice here cannot reorder anything.
  if (options_.splice_after != 0 && bytes_ >= options_.splice_after &&
      full_reads_ >= options_.splice_after_full_reads) {
    host_.change_mode(Mode::splice);
    return;
  }
  if (host_.at_rest()) return;
  arm_recv();
}

void CopyForwarder::received_nothing(int res) {
  // Nothing was taken off the source, so the direction is at rest here.
  if (host_.at_rest()) return;
  // -ECANCELED: cancelled for a move that was given up meanwhile.
  if (res == -ECANCELED) {
    arm_recv();
    return;
  }
  host_.wait_for_buffer();
}

void CopyForwarder::resume() {
  // Also the end of a rest, and a buffer wake-up that came after one: a
  // receive or a send already under way is not doubled.
  if (host_.closing() || stopped_ || recv_op_ != nullptr || sending_) return;
  arm_recv();
}

Rest CopyForwarder::come_to_rest() {
  if (stopped_ || sending_) return Rest::busy;
  if (recv_op_ != nullptr) {
    // Its completion (cancelled, or bytes that won the race and are sent
    // first) asks Host::at_rest().
    host_.reactor().cancel(recv_op_);
    return Rest::soon;
  }
  // Waiting for a free buffer: nothing taken, nothing in flight.
  return Rest::now;
}

void CopyForwarder::stop() {
  stopped_ = true;
  release_buffer();
}

void CopyForwarder::release_buffer() {
  if (buffer_ < 0) return;
  host_.reactor().buffers().recycle(static_cast<std::uint16_t>(buffer_));
  buffer_ = -1;
}

}  // namespace sniproxy::proxy::forward
