#include "reactor/backend.hpp"

#include <fmt/format.h>

#include "reactor/epoll/epoll_reactor.hpp"
#include "reactor/uring/uring_reactor.hpp"

namespace sniproxy::reactor {

namespace {

// What keeps the io_uring backend from running here, or "".
std::string io_uring_lacks(const IoUringFeatures& io_uring) {
  if (!io_uring.available) return io_uring.error;
  if (!io_uring.multishot_accept) return "io_uring lacks multishot accept (Linux 5.19 or later)";
  if (!io_uring.provided_buffer_ring)
    return "io_uring lacks provided-buffer rings (Linux 5.19 or later; or RLIMIT_MEMLOCK too low)";
  return "";
}

}  // namespace

std::string_view to_string(BackendKind kind) {
  return kind == BackendKind::epoll ? "epoll" : "io_uring";
}

Result<BackendChoice> choose_backend(std::optional<BackendKind> requested,
                                     const IoUringFeatures& io_uring) {
  if (requested == BackendKind::epoll) return BackendChoice{BackendKind::epoll, ""};
  const std::string lacks = io_uring_lacks(io_uring);
  if (lacks.empty()) return BackendChoice{BackendKind::io_uring, ""};
  if (requested == BackendKind::io_uring)
    return make_error(
        fmt::format("[reactor] backend = \"io_uring\", but io_uring cannot run here: {}. Allow "
                    "io_uring (seccomp profile Unconfined or one that permits io_uring_setup, "
                    "sysctl kernel.io_uring_disabled=0), or set backend = \"auto\" or \"epoll\"",
                    lacks));
  return BackendChoice{BackendKind::epoll, lacks};
}

Result<std::unique_ptr<Reactor>> create_reactor(const ReactorOptions& options) {
  if (options.backend == BackendKind::epoll) {
    auto epoll = EpollReactor::create(options);
    if (!epoll) return epoll.error();
    return std::unique_ptr<Reactor>(std::move(epoll).value());
  }
  auto uring = UringReactor::create(options);
  if (!uring) return uring.error();
  return std::unique_ptr<Reactor>(std::move(uring).value());
}

}  // namespace sniproxy::reactor
