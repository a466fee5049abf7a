// Splice forwarding: socket -> pipe -> socket with splice(2), so the bytes
// never enter userspace. The splices are made on the worker's thread, not as
// io_uring operations: IORING_OP_SPLICE always runs on an io-wq thread, two
// thread hand-offs per chunk, which measured dearer (docs/design-notes.md).
// Each direction POLL_ADDs its source (an idle connection holds no pipe),
// then moves what is there through a pipe from the worker's pool to the peer
// (polling the peer for POLLOUT when its send buffer is full), returns the
// empty pipe and polls again. Both sockets are non-blocking and every splice
// carries SPLICE_F_NONBLOCK, so no call waits.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "proxy/connection.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

namespace {
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// Pipe-fulls one readiness event may move before the direction polls again,
// so one fast connection cannot hold the worker from the others.
constexpr int kSpliceRounds = 8;
}  // namespace

void Connection::start_splice() {
  dirs_[0].splice = true;
  dirs_[1].splice = true;
  // The hello is still queued on the client socket (it was only peeked), so
  // the first splice carries it; a PROXY header must go out before it.
  if (!initial_.empty())
    send_initial();
  else
    splice_pump(0);
  splice_wait_readable(1);
}

void Connection::splice_wait_readable(int d) {
  Direction& dir = dirs_[d];
  return_pipe(dir);
  dir.recv_op.handler = &Connection::on_splice_readable;
  io_uring_sqe* s = worker_.ring().sqe(&dir.recv_op);
  io_uring_prep_poll_add(s, dir.from, POLLIN | POLLRDHUP);
  ++pending_;
}

void Connection::on_splice_readable(int d, int res, unsigned) {
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, true, res);
    return;
  }
  splice_pump(d);
}

bool Connection::take_pipe(int d) {
  Direction& dir = dirs_[d];
  if (dir.pipe) return true;
  auto pipe = worker_.pipes().acquire();
  if (pipe) {
    dir.pipe = std::move(pipe).value();
    return true;
  }
  if (worker_.pipes().exhausted()) {
    worker_.wait_for_pipe(id_, d);
    return false;
  }
  // No descriptor for a pipe (EMFILE/ENFILE): carry on copying; a direction
  // holds nothing in flight between reads, so this is safe.
  log::warn("splice_fallback", "id={} direction={} reason=\"{}\" now=copy", id_, d,
            pipe.error().message);
  dir.splice = false;
  arm_recv(d);
  return false;
}

void Connection::splice_pump(int d) {
  Direction& dir = dirs_[d];
  if (!take_pipe(d)) return;
  const std::size_t pipe_size = worker_.pipes().pipe_size();
  bool source_empty = false;
  for (int round = 0; round < kSpliceRounds && !source_empty; ++round) {
    if (dir.in_pipe == 0) {
      const ssize_t in =
          ::splice(dir.from, nullptr, dir.pipe->write_end.get(), nullptr, pipe_size, kSpliceFlags);
      if (in < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        direction_failed(d, true, -errno);
        return;
      }
      if (in == 0) {
        return_pipe(dir);
        end_of_stream(d);
        return;
      }
      dir.in_pipe = static_cast<std::size_t>(in);
      dir.bytes += static_cast<std::uint64_t>(in);
      touch();
      // A short read emptied the socket: after this flush, wait for more.
      source_empty = static_cast<std::size_t>(in) < pipe_size;
    }
    while (dir.in_pipe > 0) {
      const ssize_t out =
          ::splice(dir.pipe->read_end.get(), nullptr, dir.to, nullptr, dir.in_pipe, kSpliceFlags);
      if (out < 0 && errno == EINTR) continue;
      if (out < 0 && errno == EAGAIN) {
        // The peer's send buffer is full: wait until it drains
        // (backpressure; the pipe keeps its bytes and we read no more).
        dir.send_op.handler = &Connection::on_splice_writable;
        io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
        io_uring_prep_poll_add(s, dir.to, POLLOUT);
        ++pending_;
        return;
      }
      if (out <= 0) {
        direction_failed(d, false, out == 0 ? -EPIPE : -errno);
        return;
      }
      dir.in_pipe -= static_cast<std::size_t>(out);
    }
  }
  splice_wait_readable(d);
}

void Connection::on_splice_writable(int d, int res, unsigned) {
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, false, res);
    return;
  }
  splice_pump(d);
}

void Connection::resume_splice(int direction) {
  if (state_ == State::forwarding) splice_pump(direction);
}

void Connection::return_pipe(Direction& dir) {
  if (!dir.pipe) return;
  // A pipe that still holds bytes (a failed splice out) cannot serve another
  // connection. The splices run on this thread, so in_pipe is exact.
  if (dir.in_pipe == 0)
    worker_.pipes().release(std::move(dir.pipe));
  else
    worker_.pipes().forget(std::move(dir.pipe));
  dir.in_pipe = 0;
}

}  // namespace sniproxy::proxy
