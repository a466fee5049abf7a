#include "proxy/forward/splice_forwarder.hpp"

#include <fcntl.h>
#include <poll.h>

#include <cerrno>

#include "common/log.hpp"

namespace sniproxy::proxy::forward {

namespace {
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// Pipe-fulls one readiness event may move before the direction polls again,
// so one fast connection cannot hold the worker from the others.
constexpr int kSpliceRounds = 8;
}  // namespace

SpliceForwarder::SpliceForwarder(Host& host, int from, int to, std::vector<std::uint8_t> preamble,
                                 bool poll_first)
    : host_(host), from_(from), to_(to), preamble_(std::move(preamble)), poll_first_(poll_first) {}

void SpliceForwarder::start() {
  if (!preamble_.empty()) {
    host_.reactor().send(to_, preamble_, host_.begin(Side::peer));
    return;
  }
  if (poll_first_)
    wait_readable();
  else
    pump();  // the source holds bytes already (a hello that was only peeked)
}

void SpliceForwarder::wait_readable() {
  return_pipe();
  host_.reactor().poll(from_, POLLIN | POLLRDHUP, host_.begin(Side::source));
}

void SpliceForwarder::on_complete(Side side, const reactor::Event& event) {
  if (host_.closing()) return;
  if (event.res < 0) {
    host_.failed(side == Side::source, event.res);
    return;
  }
  if (side == Side::peer && !preamble_.empty()) {
    preamble_sent_ += static_cast<std::size_t>(event.res);
    if (preamble_sent_ < preamble_.size()) {
      host_.reactor().send(to_, std::span(preamble_).subspan(preamble_sent_),
                           host_.begin(Side::peer));
      return;
    }
    std::vector<std::uint8_t>().swap(preamble_);
  }
  pump();
}

bool SpliceForwarder::take_pipe() {
  if (pipe_) return true;
  auto pipe = host_.pipes().acquire();
  if (pipe) {
    pipe_ = std::move(pipe).value();
    return true;
  }
  if (host_.pipes().exhausted()) {
    host_.wait_for_pipe();
    return false;
  }
  // No descriptor for a pipe (EMFILE/ENFILE): carry on copying; the
  // direction holds nothing in flight between reads, so this is safe.
  log::warn("splice_fallback", "id={} direction={} reason=\"{}\" now=copy", host_.connection_id(),
            host_.direction(), pipe.error().message);
  host_.change_mode(Mode::copy);
  return false;
}

void SpliceForwarder::pump() {
  if (!take_pipe()) return;
  const std::size_t pipe_size = host_.pipes().pipe_size();
  bool source_empty = false;
  for (int round = 0; round < kSpliceRounds && !source_empty; ++round) {
    if (in_pipe_ == 0) {
      const ssize_t in =
          ::splice(from_, nullptr, pipe_->write_end.get(), nullptr, pipe_size, kSpliceFlags);
      if (in < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        host_.failed(true, -errno);
        return;
      }
      if (in == 0) {
        return_pipe();
        host_.end_of_stream();
        return;
      }
      in_pipe_ = static_cast<std::size_t>(in);
      bytes_ += static_cast<std::uint64_t>(in);
      host_.active();
      // A short read emptied the socket: after this flush, wait for more.
      source_empty = static_cast<std::size_t>(in) < pipe_size;
    }
    while (in_pipe_ > 0) {
      const ssize_t out =
          ::splice(pipe_->read_end.get(), nullptr, to_, nullptr, in_pipe_, kSpliceFlags);
      if (out < 0 && errno == EINTR) continue;
      if (out < 0 && errno == EAGAIN) {
        // The peer's send buffer is full: wait until it drains
        // (backpressure; the pipe keeps its bytes and we read no more).
        host_.reactor().poll(to_, POLLOUT, host_.begin(Side::peer));
        return;
      }
      if (out <= 0) {
        host_.failed(false, out == 0 ? -EPIPE : -errno);
        return;
      }
      in_pipe_ -= static_cast<std::size_t>(out);
    }
  }
  wait_readable();
}

void SpliceForwarder::resume() {
  if (!host_.closing()) pump();
}

void SpliceForwarder::stop() {
  return_pipe();
}

void SpliceForwarder::return_pipe() {
  if (!pipe_) return;
  // A pipe that still holds bytes (a failed splice out) cannot serve another
  // connection. The splices run on this thread, so in_pipe_ is exact.
  if (in_pipe_ == 0)
    host_.pipes().release(std::move(pipe_));
  else
    host_.pipes().forget(std::move(pipe_));
  in_pipe_ = 0;
}

}  // namespace sniproxy::proxy::forward
