#include "proxy/forward/sockmap_session.hpp"

#include <sys/socket.h>

#include <fmt/format.h>

namespace sniproxy::proxy::forward {

std::variant<std::shared_ptr<SockmapSession>, std::string> SockmapSession::open(
    bpf::Sockmap& map, observe::SockmapMetrics& counted, int client_fd, int backend_fd,
    std::uint64_t queue_cap, std::vector<std::uint8_t>& preamble) {
  // A PROXY header must precede the hello in the backend's stream. The
  // socket was just connected, so its send buffer takes it at once.
  if (!preamble.empty()) {
    const ssize_t sent =
        ::send(backend_fd, preamble.data(), preamble.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) preamble.erase(preamble.begin(), preamble.begin() + sent);
    if (!preamble.empty()) return std::string("PROXY header not sent at once");
  }
  auto inserted = map.insert(client_fd, backend_fd, queue_cap);
  if (!inserted)
    return fmt::format("{}: {}", bpf::to_string(inserted.error().kind), inserted.error().message);
  observe::bump(counted.open);
  return std::shared_ptr<SockmapSession>(new SockmapSession(map, counted, *inserted));
}

SockmapSession::~SockmapSession() {
  // The last direction stops while the connection finishes, which closes
  // both sockets next (Connection::finish()): the close takes them out of
  // the sockhash.
  map_.remove_before_close(pair_);
  counted_.open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace sniproxy::proxy::forward
