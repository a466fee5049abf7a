#include "backend.hpp"

#include <poll.h>

namespace sniproxy::integration {

Backend::Backend(BackendHandler handler, int backlog, const Endpoint& at)
    : handler_(std::move(handler)), listener_(listen_tcp(at, backlog)), ip_(at.ip) {
  port_ = local_endpoint(listener_.get()).port;
  acceptor_ = std::thread([this] { accept_loop(); });
}

Backend::~Backend() {
  stopping_ = true;
  acceptor_.join();
  std::lock_guard lock(threads_mutex_);
  for (auto& t : handlers_) t.join();
}

bool Backend::wait_accepted(int n, Deadline deadline) const {
  while (accepted_.load() < n) {
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

void Backend::accept_loop() {
  while (!stopping_) {
    UniqueFd fd = accept_one(listener_.get(), Deadline::in(milliseconds(50), &stopping_));
    if (!fd) continue;
    BackendConnection conn;
    conn.peer = peer_endpoint(fd.get());
    conn.fd = std::move(fd);
    conn.index = accepted_.fetch_add(1);
    conn.stopping = &stopping_;
    std::lock_guard lock(threads_mutex_);
    handlers_.emplace_back([this, c = std::move(conn)]() mutable { handler_(c); });
  }
}

}  // namespace sniproxy::integration
