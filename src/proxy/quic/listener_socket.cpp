#include "proxy/quic/listener_socket.hpp"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "common/udp_socket.hpp"

namespace sniproxy::proxy::quic {

Result<ListenerSocket> open_listener_socket(const SharedState& shared, std::size_t index,
                                            const config::Listener& listener, bool reuse_port) {
  ListenerSocket out;
  if (index < shared.passed_listeners.size() && !shared.passed_listeners[index].empty()) {
    // One socket per quic listener is passed; one thread reads it.
    out.fd.reset(::fcntl(shared.passed_listeners[index].front().get(), F_DUPFD_CLOEXEC, 0));
    if (!out.fd)
      return make_error(fmt::format("listener {}: duplicating a passed socket: {}", listener.name,
                                    std::strerror(errno)));
    out.passed = true;
    return out;
  }
  auto fd = open_udp_listen_socket(listener.address, listener.v6only, reuse_port);
  if (!fd) return make_error(fmt::format("listener {}: {}", listener.name, fd.error().message));
  out.fd = std::move(fd).value();
  return out;
}

}  // namespace sniproxy::proxy::quic
