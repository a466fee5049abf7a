#include "socket_io.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace sniproxy::integration {

namespace {

IoStatus status_from_errno(int err) {
  if (err == ECONNRESET || err == EPIPE) return IoStatus::reset;
  return IoStatus::error;
}

}  // namespace

bool Deadline::expired() const {
  if (cancel != nullptr && cancel->load()) return true;
  return Clock::now() >= at;
}

int Deadline::poll_timeout_ms() const {
  auto left = std::chrono::duration_cast<milliseconds>(at - Clock::now()).count();
  if (left < 0) left = 0;
  if (cancel != nullptr) left = std::min<long>(left, 20);
  // Round up so a wait does not spin through its last millisecond.
  return static_cast<int>(left) + 1;
}

std::string_view to_string(IoStatus status) {
  switch (status) {
    case IoStatus::ok:
      return "ok";
    case IoStatus::eof:
      return "eof";
    case IoStatus::reset:
      return "reset";
    case IoStatus::timeout:
      return "timeout";
    case IoStatus::error:
      return "error";
  }
  return "?";
}

Endpoint loopback(std::uint16_t port) {
  return Endpoint{IpAddress::v4(127, 0, 0, 1), port};
}

Endpoint local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).value_or(Endpoint{});
}

Endpoint peer_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).value_or(Endpoint{});
}

ConnectResult connect_tcp(const Endpoint& to, Deadline deadline) {
  sockaddr_storage ss{};
  const unsigned len = to.to_sockaddr(ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return {UniqueFd(), errno};
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) return {std::move(fd), 0};
  if (errno != EINPROGRESS) return {UniqueFd(), errno};
  return await_connected(std::move(fd), deadline);
}

ConnectResult await_connected(UniqueFd fd, Deadline deadline) {
  while (!wait_for(fd.get(), POLLOUT, deadline)) {
    if (deadline.expired()) return {UniqueFd(), ETIMEDOUT};
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return {UniqueFd(), err};
  return {std::move(fd), 0};
}

UniqueFd listen_tcp(const Endpoint& at, int backlog) {
  sockaddr_storage ss{};
  const unsigned len = at.to_sockaddr(ss);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind " + at.to_string() + " failed");
  if (::listen(fd.get(), backlog) != 0) throw std::runtime_error("listen failed");
  return fd;
}

UniqueFd accept_one(int listen_fd, Deadline deadline) {
  while (true) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return UniqueFd();
    if (deadline.expired()) return UniqueFd();
    wait_for(listen_fd, POLLIN, deadline);
  }
}

bool wait_for(int fd, short events, Deadline deadline) {
  while (!deadline.expired()) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (n > 0) return true;  // includes POLLERR/POLLHUP: the next call reports them
    if (n < 0 && errno != EINTR) return true;
  }
  return false;
}

IoStatus send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return status_from_errno(errno);
    if (!wait_for(fd, POLLOUT, deadline)) return IoStatus::timeout;
  }
  return IoStatus::ok;
}

IoStatus send_all(int fd, std::string_view text, Deadline deadline) {
  return send_all(fd, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                  deadline);
}

IoStatus read_exact(int fd, std::size_t n, std::vector<std::uint8_t>& out, Deadline deadline) {
  const std::size_t target = out.size() + n;
  while (out.size() < target) {
    const std::size_t before = out.size();
    out.resize(target);
    ssize_t got = ::recv(fd, out.data() + before, target - before, 0);
    out.resize(before + static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
    if (got > 0) continue;
    if (got == 0) return IoStatus::eof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return status_from_errno(errno);
    if (!wait_for(fd, POLLIN, deadline)) return IoStatus::timeout;
  }
  return IoStatus::ok;
}

IoStatus read_some(int fd, std::vector<std::uint8_t>& out, Deadline deadline) {
  std::uint8_t buf[65536];
  while (true) {
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got > 0) {
      out.insert(out.end(), buf, buf + got);
      return IoStatus::ok;
    }
    if (got == 0) return IoStatus::eof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return status_from_errno(errno);
    if (!wait_for(fd, POLLIN, deadline)) return IoStatus::timeout;
  }
}

ReadAll read_until_closed(int fd, Deadline deadline, std::size_t limit) {
  ReadAll r;
  while (r.bytes.size() <= limit) {
    IoStatus s = read_some(fd, r.bytes, deadline);
    if (s != IoStatus::ok) {
      r.status = s;
      return r;
    }
  }
  r.status = IoStatus::ok;
  return r;
}

void close_with_reset(UniqueFd& fd) {
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

void shutdown_write(int fd) {
  ::shutdown(fd, SHUT_WR);
}

std::vector<std::uint8_t> to_bytes(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

std::string to_text(std::span<const std::uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace sniproxy::integration
