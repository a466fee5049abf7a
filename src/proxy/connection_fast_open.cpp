// TCP Fast Open toward a backend (a fast_open route or pool), when the
// kernel deferred the connect because it holds a cookie for the backend:
// connect() returned at once and nothing is sent yet. The PROXY header and
// the hello (still only peeked on the client socket) go in the SYN with the
// first send; the handshake is then awaited within what is left of the
// connect timeout, and only a finished one lets start_forwarding() take the
// hello off the client socket. A refused, unreachable or timed-out handshake
// is a failed connect like any other: the next address or pool member gets
// the hello again from hello_.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/fast_open.hpp"
#include "common/socket_error.hpp"
#include "proxy/connection.hpp"
#include "proxy/worker.hpp"

namespace sniproxy::proxy {

void Connection::send_in_syn() {
  in_syn_ = proxy_header();
  in_syn_.insert(in_syn_.end(), hello_.begin(), hello_.end());
  in_syn_sent_ = 0;
  fast_open_op_.handler = &Connection::on_syn_sent;
  worker_.reactor().send(upstream_.get(), in_syn_, begin(fast_open_op_));
}

void Connection::on_syn_sent(int, forward::Side, const reactor::Event& event) {
  if (state_ == State::closing) return;
  // The send returns what the SYN took, at once; -EINPROGRESS when it took
  // nothing (the SYN left without data): the rest follows the handshake.
  if (event.res < 0 && event.res != -EINPROGRESS) {
    connect_failed(event.res);
    return;
  }
  in_syn_sent_ = event.res > 0 ? static_cast<std::size_t>(event.res) : 0;
  const auto left = connect_started_ + connect_timeout() - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) {
    connect_failed(-ECANCELED);
    return;
  }
  fast_open_op_.handler = &Connection::on_fast_open_handshake;
  worker_.reactor().poll(upstream_.get(), POLLOUT, left, begin(fast_open_op_));
}

void Connection::on_fast_open_handshake(int, forward::Side, const reactor::Event& event) {
  if (state_ == State::closing) return;
  if (event.res < 0) {  // -ECANCELED: the connect timeout ran out
    connect_failed(event.res);
    return;
  }
  // POLLOUT, or POLLERR with the reason (ECONNREFUSED, EHOSTUNREACH...).
  int err = take_socket_error(upstream_.get());
  if (err == 0 && (event.res & POLLOUT) == 0) err = ECONNRESET;  // a hang-up with no reason
  if (err != 0) {
    connect_failed(-err);
    return;
  }
  if (syn_data_accepted(upstream_.get()))
    observe::bump(worker_.shared().metrics.fast_open_syn_data_sent);
  hello_sent_in_syn_ = true;
  connected();
}

}  // namespace sniproxy::proxy
