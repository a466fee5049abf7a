#include "backend_pool.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

namespace sniproxy::integration {

BackendPool::BackendPool(BackendHandler handler, int threads, int backlog)
    : handler_(std::move(handler)), listener_(listen_tcp(loopback(0), backlog)) {
  port_ = local_endpoint(listener_.get()).port;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { serve(); });
}

BackendPool::~BackendPool() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
}

void BackendPool::serve() {
  // EPOLLEXCLUSIVE wakes one idle thread per new connection rather than the
  // whole pool (a plain poll on the shared listener would wake them all).
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event want{};
  want.events = EPOLLIN | EPOLLEXCLUSIVE;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener_.get(), &want);
  while (!stopping_) {
    epoll_event got{};
    if (::epoll_wait(epoll.get(), &got, 1, 50) <= 0) continue;
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) continue;  // another thread took it
    BackendConnection conn;
    conn.peer = peer_endpoint(fd.get());
    conn.fd = std::move(fd);
    conn.index = accepted_.fetch_add(1);
    conn.stopping = &stopping_;
    handler_(conn);
  }
}

}  // namespace sniproxy::integration
