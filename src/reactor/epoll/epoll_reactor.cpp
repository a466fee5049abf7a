#include "reactor/epoll/epoll_reactor.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reactor/packet_info.hpp"

namespace sniproxy::reactor {

namespace {

// Most events one epoll_wait returns, and most results one readiness gives a
// multishot operation before others get their turn (level-triggered: the
// rest comes with the next wait).
constexpr int kMaxEvents = 256;
constexpr int kMaxPerReadiness = 64;

// What multishot recvmsg puts at the front of each pool buffer, followed by
// the peer address, the local address (each a sockaddr_storage) and the
// payload.
struct DatagramHeader {
  std::uint32_t payload_length;
  std::uint32_t peer_length;
  bool truncated;
  bool has_local;
};
constexpr std::size_t kLocalOffset = sizeof(DatagramHeader) + sizeof(sockaddr_storage);
constexpr std::size_t kDatagramPrefix = kLocalOffset + sizeof(sockaddr_storage);

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK;
}

}  // namespace

Result<std::unique_ptr<EpollReactor>> EpollReactor::create(const ReactorOptions& options) {
  if (options.buffer_count == 0 || options.buffer_count > 32768)
    return make_error(fmt::format("buffer count {} is not in 1..32768", options.buffer_count));
  if (options.buffer_size <= kDatagramPrefix)
    return make_error(fmt::format("buffer size {} is too small", options.buffer_size));
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return make_error(fmt::format("epoll_create1 failed: {}", std::strerror(errno)));
  return std::unique_ptr<EpollReactor>(
      new EpollReactor(std::move(epoll), options.buffer_count, options.buffer_size));
}

EpollReactor::EpollReactor(UniqueFd epoll, std::uint32_t buffer_count, std::uint32_t buffer_size)
    : epoll_(std::move(epoll)), buffers_(buffer_count, buffer_size), events_(kMaxEvents) {}

// --- starting and ending operations -------------------------------------------

EpollReactor::Op& EpollReactor::start(Completion* c, Op op) {
  op.serial = next_serial_++;
  Op& stored = ops_.insert_or_assign(c, op).first->second;
  if (op.fd >= 0) {
    waiters_[op.fd].ops.push_back(c);
    to_arm_.push_back(op.fd);
  }
  return stored;
}

void EpollReactor::set_deadline(Completion* c, const Op& op, Timeout after) {
  const auto wait = std::max(after, Timeout::zero());
  deadlines_.push(
      Deadline{Clock::now() + std::chrono::duration_cast<Clock::duration>(wait), op.serial, c});
}

void EpollReactor::forget_waiter(int fd, Completion* c) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;
  auto& ops = it->second.ops;
  ops.erase(std::remove(ops.begin(), ops.end(), c), ops.end());
  // With nothing left waiting, what is registered is forgotten at once: the
  // descriptor may be closed and its number reused (a failed connect's
  // socket replaced by the next attempt's) before the next arming, and the
  // new socket must be registered, not taken for the old one.
  if (ops.empty()) it->second.armed = 0;
  to_arm_.push_back(fd);
}

void EpollReactor::finish(Completion* c, Event event) {
  auto it = ops_.find(c);
  if (it == ops_.end()) return;
  if (it->second.fd >= 0) forget_waiter(it->second.fd, c);
  ops_.erase(it);
  event.more = false;
  deliver_later(c, event);
}

bool EpollReactor::has_write_waiting(int fd) const {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return false;
  return std::any_of(it->second.ops.begin(), it->second.ops.end(), [this](Completion* c) {
    const Kind k = ops_.at(c).kind;
    return k == Kind::send || k == Kind::sendmsg || k == Kind::connect;
  });
}

// --- the operations ----------------------------------------------------------------

void EpollReactor::accept_multishot(int listen_fd, Completion* c) {
  start(c, Op{.kind = Kind::accept, .fd = listen_fd, .events = EPOLLIN});
}

void EpollReactor::recv_pooled(int fd, Completion* c) {
  start(c, Op{.kind = Kind::recv_pooled, .fd = fd, .events = EPOLLIN | EPOLLRDHUP});
}

void EpollReactor::recv(int fd, std::span<std::uint8_t> into, Completion* c) {
  start(c, Op{.kind = Kind::recv, .fd = fd, .events = EPOLLIN | EPOLLRDHUP, .into = into});
}

void EpollReactor::read(int fd, std::span<std::uint8_t> into, Completion* c) {
  start(c, Op{.kind = Kind::read, .fd = fd, .events = EPOLLIN, .into = into});
}

void EpollReactor::send(int fd, std::span<const std::uint8_t> data, Completion* c) {
  // Tried at once: a socket with room takes it without a wait. Behind a
  // waiting send it queues, so bytes keep their order.
  if (!has_write_waiting(fd)) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0 || !would_block(errno)) {
      deliver_later(c, Event{.res = n >= 0 ? static_cast<int>(n) : -errno});
      return;
    }
  }
  start(c, Op{.kind = Kind::send, .fd = fd, .events = EPOLLOUT, .data = data});
}

void EpollReactor::sendmsg(int fd, const msghdr* message, Completion* c) {
  if (!has_write_waiting(fd)) {
    const ssize_t n = ::sendmsg(fd, message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0 || !would_block(errno)) {
      deliver_later(c, Event{.res = n >= 0 ? static_cast<int>(n) : -errno});
      return;
    }
  }
  start(c, Op{.kind = Kind::sendmsg, .fd = fd, .events = EPOLLOUT, .message = message});
}

void EpollReactor::connect(int fd, const sockaddr* address, socklen_t length, Timeout timeout,
                           Completion* c) {
  if (::connect(fd, address, length) == 0) {
    deliver_later(c, Event{.res = 0});
    return;
  }
  if (errno != EINPROGRESS) {
    deliver_later(c, Event{.res = -errno});
    return;
  }
  const Op& op = start(c, Op{.kind = Kind::connect, .fd = fd, .events = EPOLLOUT});
  set_deadline(c, op, timeout);
}

void EpollReactor::poll(int fd, unsigned events, Completion* c) {
  // POLLIN, POLLOUT, POLLRDHUP... have the values of their EPOLL twins.
  start(c, Op{.kind = Kind::poll, .fd = fd, .events = events});
}

void EpollReactor::poll(int fd, unsigned events, Timeout timeout, Completion* c) {
  const Op& op = start(c, Op{.kind = Kind::poll, .fd = fd, .events = events});
  set_deadline(c, op, timeout);
}

void EpollReactor::poll_remove(Completion* c) {
  cancel(c);
}

void EpollReactor::timeout(Timeout after, Completion* c) {
  const Op& op = start(c, Op{.kind = Kind::timeout});
  set_deadline(c, op, after);
}

void EpollReactor::cancel(Completion* c) {
  finish(c, Event{.res = -ECANCELED});
}

void EpollReactor::cancel_fd(int fd) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;
  const std::vector<Completion*> ops = it->second.ops;
  for (Completion* c : ops) finish(c, Event{.res = -ECANCELED});
}

void EpollReactor::recvmsg_multishot(int fd, Completion* c) {
  start(c, Op{.kind = Kind::recvmsg, .fd = fd, .events = EPOLLIN});
}

std::optional<Datagram> EpollReactor::datagram(const Event& event) {
  if (event.res < static_cast<int>(kDatagramPrefix) || event.buffer < 0) return std::nullopt;
  const auto buffer = buffers_.buffer(static_cast<std::uint16_t>(event.buffer));
  DatagramHeader header{};
  std::memcpy(&header, buffer.data(), sizeof header);
  Datagram d;
  d.peer_length = std::min<socklen_t>(header.peer_length, sizeof d.peer);
  std::memcpy(&d.peer, buffer.data() + sizeof header, d.peer_length);
  d.payload = buffer.subspan(kDatagramPrefix, header.payload_length);
  d.truncated = header.truncated;
  d.has_local = header.has_local;
  if (d.has_local) std::memcpy(&d.local, buffer.data() + kLocalOffset, sizeof d.local);
  return d;
}

// --- making the call once the descriptor is ready -----------------------------

bool EpollReactor::attempt(Completion* c, Op& op, std::uint32_t revents) {
  ssize_t n = 0;
  Event event;
  switch (op.kind) {
    case Kind::accept:
      return attempt_accept(c, op);
    case Kind::recvmsg:
      return attempt_recvmsg(c, op);
    case Kind::recv_pooled: {
      const auto id = buffers_.take();
      if (!id) {
        event.res = -ENOBUFS;
        break;
      }
      const auto into = buffers_.buffer(*id);
      n = ::recv(op.fd, into.data(), into.size(), MSG_DONTWAIT);
      if (n > 0) {
        event = Event{.res = static_cast<int>(n), .buffer = *id};
        break;
      }
      buffers_.recycle(*id);  // nothing landed in it
      if (n < 0 && would_block(errno)) return false;
      event.res = n < 0 ? -errno : 0;
      break;
    }
    case Kind::recv:
      n = ::recv(op.fd, op.into.data(), op.into.size(), MSG_DONTWAIT);
      if (n < 0 && would_block(errno)) return false;
      event.res = n < 0 ? -errno : static_cast<int>(n);
      break;
    case Kind::read:
      n = ::read(op.fd, op.into.data(), op.into.size());
      if (n < 0 && would_block(errno)) return false;
      event.res = n < 0 ? -errno : static_cast<int>(n);
      break;
    case Kind::send:
      n = ::send(op.fd, op.data.data(), op.data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && would_block(errno)) return false;
      event.res = n < 0 ? -errno : static_cast<int>(n);
      break;
    case Kind::sendmsg:
      n = ::sendmsg(op.fd, op.message, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && would_block(errno)) return false;
      event.res = n < 0 ? -errno : static_cast<int>(n);
      break;
    case Kind::connect: {
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
      event.res = -error;
      break;
    }
    case Kind::poll: {
      const std::uint32_t seen = revents & (op.events | EPOLLERR | EPOLLHUP);
      if (seen == 0) return false;
      event.res = static_cast<int>(seen);
      break;
    }
    case Kind::timeout:
      return false;  // ends only by its deadline
  }
  finish(c, event);
  return true;
}

bool EpollReactor::attempt_accept(Completion* c, const Op& op) {
  for (int i = 0; i < kMaxPerReadiness; ++i) {
    const int fd = ::accept4(op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      deliver_later(c, Event{.res = fd, .more = true});
      continue;
    }
    const int err = errno;
    if (would_block(err)) return false;
    // A client that gave up in the backlog: the next one.
    if (err == ECONNABORTED || err == EINTR) continue;
    // Out of descriptors or memory (or a listener gone): the accept ends,
    // as io_uring's multishot accept does, and its owner decides when to
    // try again instead of this loop spinning on a ready listener.
    finish(c, Event{.res = -err});
    return true;
  }
  return false;  // more may be waiting: level-triggered, the next wait says so
}

bool EpollReactor::attempt_recvmsg(Completion* c, const Op& op) {
  for (int i = 0; i < kMaxPerReadiness; ++i) {
    const auto id = buffers_.take();
    if (!id) {
      finish(c, Event{.res = -ENOBUFS});
      return true;
    }
    const auto buffer = buffers_.buffer(*id);
    DatagramHeader header{};
    msghdr message{};
    iovec payload{buffer.data() + kDatagramPrefix, buffer.size() - kDatagramPrefix};
    message.msg_name = buffer.data() + sizeof header;
    message.msg_namelen = sizeof(sockaddr_storage);
    message.msg_iov = &payload;
    message.msg_iovlen = 1;
    alignas(cmsghdr) unsigned char control[kPacketInfoSpace];
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(op.fd, &message, MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      buffers_.recycle(*id);
      if (would_block(err)) return false;
      if (err == EINTR) continue;
      finish(c, Event{.res = -err});
      return true;
    }
    header.payload_length = static_cast<std::uint32_t>(n);
    header.peer_length = message.msg_namelen;
    header.truncated = (message.msg_flags & MSG_TRUNC) != 0;
    header.has_local = false;
    for (cmsghdr* m = CMSG_FIRSTHDR(&message); m != nullptr; m = CMSG_NXTHDR(&message, m)) {
      if (auto local = destination_of(*m)) {
        std::memcpy(buffer.data() + kLocalOffset, &*local, sizeof *local);
        header.has_local = true;
      }
    }
    std::memcpy(buffer.data(), &header, sizeof header);
    deliver_later(c, Event{.res = static_cast<int>(kDatagramPrefix + static_cast<std::size_t>(n)),
                           .buffer = *id,
                           .more = true});
  }
  return false;
}

// --- the loop -------------------------------------------------------------------

void EpollReactor::on_ready(int fd, std::uint32_t revents) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;  // a registration no operation wants any more
  it->second.armed = 0;              // one-shot: it fired
  to_arm_.push_back(fd);
  // A copy: finishing an operation edits the list.
  const std::vector<Completion*> waiting = it->second.ops;
  for (Completion* c : waiting) {
    auto op = ops_.find(c);
    if (op == ops_.end()) continue;
    if ((revents & (op->second.events | EPOLLERR | EPOLLHUP)) == 0) continue;
    attempt(c, op->second, revents);
  }
}

// Registers what each descriptor's operations wait for, before the wait. A
// descriptor no operation waits on is forgotten: its number may come back
// as another socket, which MOD then fails on (ENOENT) and ADD takes.
void EpollReactor::arm_waiting() {
  for (int fd : to_arm_) {
    auto it = waiters_.find(fd);
    if (it == waiters_.end()) continue;
    Waiters& w = it->second;
    if (w.ops.empty()) {
      waiters_.erase(it);
      continue;
    }
    std::uint32_t mask = EPOLLONESHOT;
    for (Completion* c : w.ops) mask |= ops_.at(c).events;
    if (mask == w.armed) continue;
    epoll_event ev{};
    ev.events = mask;
    ev.data.fd = fd;
    int rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0 && errno == ENOENT) rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0) {
      // Not a descriptor epoll can wait on (or not open): its operations
      // end with the reason instead of waiting forever.
      const int err = errno;
      const std::vector<Completion*> ops = w.ops;
      for (Completion* c : ops) finish(c, Event{.res = -err});
      waiters_.erase(fd);
      continue;
    }
    w.armed = mask;
  }
  to_arm_.clear();
}

void EpollReactor::expire_deadlines(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.top().when <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    auto it = ops_.find(d.c);
    if (it == ops_.end() || it->second.serial != d.serial) continue;  // ended already
    finish(d.c, Event{.res = it->second.kind == Kind::timeout ? -ETIME : -ECANCELED});
  }
}

int EpollReactor::wait_ms(std::chrono::milliseconds max_wait, Clock::time_point now) const {
  if (!ready_.empty()) return 0;
  std::chrono::milliseconds wait = max_wait;
  if (!deadlines_.empty()) {
    // Rounded up: waking a little late is fine, waking early spins.
    const auto until = std::chrono::ceil<std::chrono::milliseconds>(deadlines_.top().when - now);
    const auto bounded = std::max(until, std::chrono::milliseconds(0));
    if (wait.count() < 0 || bounded < wait) wait = bounded;
  }
  return wait.count() < 0 ? -1 : static_cast<int>(std::min<std::int64_t>(wait.count(), 1 << 30));
}

unsigned EpollReactor::run_once(std::chrono::milliseconds max_wait) {
  // Ready results first, or operations started with nothing to wait for
  // would wait out max_wait.
  arm_waiting();
  const int n =
      ::epoll_wait(epoll_.get(), events_.data(), kMaxEvents, wait_ms(max_wait, Clock::now()));
  for (int i = 0; i < n; ++i)
    on_ready(events_[static_cast<std::size_t>(i)].data.fd,
             events_[static_cast<std::size_t>(i)].events);
  expire_deadlines(Clock::now());
  // Delivered from a copy: a completion may start (and finish) others,
  // which wait for the next round.
  delivering_.clear();
  delivering_.swap(ready_);
  for (const auto& [c, event] : delivering_) c->on_complete(event);
  return static_cast<unsigned>(delivering_.size());
}

}  // namespace sniproxy::reactor
