#include "proxy/health_probe.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "common/socket_error.hpp"
#include "proxy/upstream_socket.hpp"

namespace sniproxy::proxy {

HealthProbe::HealthProbe(const Endpoint& to, std::vector<std::uint8_t> hello,
                         upstream::TimePoint deadline)
    : hello_(std::move(hello)), deadline_(deadline) {
  auto socket = open_upstream_socket(to, std::nullopt);
  if (!socket) {
    finish(false, socket.error().message);
    return;
  }
  fd_ = std::move(*socket);
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    connected();
  } else if (errno != EINPROGRESS) {
    finish(false, std::strerror(errno));
  }
}

short HealthProbe::events() const {
  return phase_ == Phase::receiving ? POLLIN : POLLOUT;
}

void HealthProbe::on_ready() {
  switch (phase_) {
    case Phase::connecting: {
      if (const int err = take_socket_error(fd_.get()); err != 0) {
        finish(false, std::strerror(err));
      } else {
        connected();
      }
      break;
    }
    case Phase::sending:
      send_hello();
      break;
    case Phase::receiving:
      receive();
      break;
    case Phase::done:
      break;
  }
}

void HealthProbe::on_timeout() {
  if (done()) return;
  finish(false,
         phase_ == Phase::connecting ? "timed out connecting" : "timed out awaiting a TLS record");
}

void HealthProbe::connected() {
  if (hello_.empty()) {
    finish(true, "connected");
    return;
  }
  phase_ = Phase::sending;
  send_hello();
}

void HealthProbe::send_hello() {
  const ssize_t n = ::send(fd_.get(), hello_.data() + sent_, hello_.size() - sent_, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) finish(false, std::strerror(errno));
    return;
  }
  sent_ += static_cast<std::size_t>(n);
  if (sent_ == hello_.size()) phase_ = Phase::receiving;
}

void HealthProbe::receive() {
  std::uint8_t first = 0;
  const ssize_t n = ::recv(fd_.get(), &first, 1, 0);
  if (n == 1) {
    // 0x16 handshake (a ServerHello) or 0x15 alert: a TLS server is there,
    // even one that refuses this name.
    const bool tls = first == 0x16 || first == 0x15;
    finish(tls, tls ? "TLS record" : "no TLS record");
  } else if (n == 0) {
    finish(false, "no TLS record: connection closed");
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    finish(false, std::strerror(errno));
  }
}

void HealthProbe::finish(bool ok, std::string detail) {
  phase_ = Phase::done;
  ok_ = ok;
  detail_ = std::move(detail);
  if (fd_) {
    // Close with a reset: checks every few seconds would otherwise leave a
    // TIME_WAIT socket (and its port) behind each, as HAProxy's do not.
    const linger reset{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    fd_.reset();
  }
}

}  // namespace sniproxy::proxy
