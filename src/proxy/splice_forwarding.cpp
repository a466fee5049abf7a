// Splice forwarding: socket -> pipe -> socket with IORING_OP_SPLICE, so the
// bytes never enter userspace. io_uring runs every splice on an io-wq thread,
// so a splice must never wait for data: each direction first POLL_ADDs its
// source (an idle connection then holds no io-wq thread and no pipe), splices
// what is there into a pipe taken from the worker's pool, splices the pipe
// out to the peer (waiting for POLLOUT when the peer's send buffer is full),
// returns the empty pipe, and polls again. Both sockets are non-blocking and
// every splice carries SPLICE_F_NONBLOCK.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "proxy/connection.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

namespace {
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
}

void Connection::start_splice() {
  dirs_[0].splice = true;
  dirs_[1].splice = true;
  // The hello is still queued on the client socket (it was only peeked), so
  // the first splice carries it; a PROXY header must go out before it.
  if (!initial_.empty())
    send_initial();
  else
    splice_in(0);
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
  splice_in(d);
}

void Connection::splice_in(int d) {
  Direction& dir = dirs_[d];
  if (!dir.pipe) {
    auto pipe = worker_.pipes().acquire();
    if (!pipe) {
      if (worker_.pipes().exhausted()) {
        worker_.wait_for_pipe(id_, d);
        return;
      }
      // No descriptor for a pipe (EMFILE/ENFILE): carry on copying; a
      // direction holds nothing in flight between reads, so this is safe.
      log::warn("splice_fallback", "id={} direction={} reason=\"{}\" now=copy", id_, d,
                pipe.error().message);
      dir.splice = false;
      arm_recv(d);
      return;
    }
    dir.pipe = std::move(pipe).value();
  }
  dir.recv_op.handler = &Connection::on_spliced_in;
  io_uring_sqe* s = worker_.ring().sqe(&dir.recv_op);
  io_uring_prep_splice(s, dir.from, -1, dir.pipe->write_end.get(), -1, worker_.pipes().pipe_size(),
                       kSpliceFlags);
  ++pending_;
}

void Connection::on_spliced_in(int d, int res, unsigned) {
  Direction& dir = dirs_[d];
  if (state_ == State::closing) {
    // A splice that completed after the close still filled the pipe: count
    // those bytes, so that return_pipe drops the pipe instead of handing it,
    // bytes and all, to the next connection.
    if (res > 0) dir.in_pipe += static_cast<std::size_t>(res);
    return;
  }
  if (res == -EAGAIN) {
    splice_wait_readable(d);
    return;
  }
  if (res < 0) {
    direction_failed(d, true, res);
    return;
  }
  if (res == 0) {
    return_pipe(dir);
    end_of_stream(d);
    return;
  }
  dir.in_pipe = static_cast<std::size_t>(res);
  dir.bytes += static_cast<std::uint64_t>(res);
  touch();
  splice_out(d);
}

void Connection::splice_out(int d) {
  Direction& dir = dirs_[d];
  dir.send_op.handler = &Connection::on_spliced_out;
  io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
  io_uring_prep_splice(s, dir.pipe->read_end.get(), -1, dir.to, -1,
                       static_cast<unsigned>(dir.in_pipe), kSpliceFlags);
  ++pending_;
}

void Connection::on_spliced_out(int d, int res, unsigned) {
  Direction& dir = dirs_[d];
  if (state_ == State::closing) return;
  if (res == -EAGAIN) {
    // The peer's send buffer is full: wait until it drains (backpressure;
    // the pipe keeps its bytes meanwhile and we read no more).
    dir.send_op.handler = &Connection::on_splice_writable;
    io_uring_sqe* s = worker_.ring().sqe(&dir.send_op);
    io_uring_prep_poll_add(s, dir.to, POLLOUT);
    ++pending_;
    return;
  }
  if (res <= 0) {
    direction_failed(d, false, res == 0 ? -EPIPE : res);
    return;
  }
  dir.in_pipe -= static_cast<std::size_t>(res);
  if (dir.in_pipe > 0) {
    splice_out(d);
    return;
  }
  splice_wait_readable(d);
}

void Connection::on_splice_writable(int d, int res, unsigned) {
  if (state_ == State::closing) return;
  if (res < 0) {
    direction_failed(d, false, res);
    return;
  }
  splice_out(d);
}

void Connection::resume_splice(int direction) {
  if (state_ == State::forwarding) splice_in(direction);
}

void Connection::return_pipe(Direction& dir) {
  if (!dir.pipe) return;
  // A pipe that still holds bytes cannot serve another connection. Ask the
  // pipe itself too: no operation of ours is in flight on it here, so what
  // FIONREAD reports is final, whatever a cancelled splice left behind.
  int queued = 0;
  const bool empty = ::ioctl(dir.pipe->read_end.get(), FIONREAD, &queued) == 0 && queued == 0;
  if (dir.in_pipe == 0 && empty)
    worker_.pipes().release(std::move(dir.pipe));
  else
    worker_.pipes().forget(std::move(dir.pipe));
  dir.in_pipe = 0;
}

}  // namespace sniproxy::proxy
