#include "proxy/forward/sockmap_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace sniproxy::proxy::forward {

namespace {

// Each socket's receive buffer, fixed: SO_RCVBUF a sixteenth of the cap
// and at least 512 KiB, which the kernel doubles (1 MiB at the default
// cap, nearly all of it window on loopback). Past the cap the verdict
// passes what arrives to userspace until the sender's window closes, and
// the proxy moves that run whole before the kernel takes the direction
// back (sockmap_forwarder.cpp); the kernel moves about the cap between two runs, so the window sets
// the userspace share of a bulk stream. Autotuned, it grew to tcp_rmem's maximum (32 MiB seen) and
// 97% of a bulk transfer took the userspace path; fixed at 1 MiB, 75% took the kernel's. Smaller
// buffers stall the sender: on loopback (64 KiB MSS) half of this made 1 GiB take 12 s instead
// of 1. So where net.core.rmem_max would cut the value down (the kernel's default is 208 KiB), the
// buffer is left to autotuning as before. A fixed buffer also bounds a far client's upload window:
// the cap raises it. The share is about cap / (cap + 2 x SO_RCVBUF): at cap/8 every cap kept 77%
// (16 MiB too); at cap/16 a 16 MiB cap keeps 89.5%, at the MB/s and with less CPU than cap/8 in the
// same rounds (docs/kernel.md), while the default cap keeps the floor's buffer below. Redirected
// skbs leave the receive queue as they arrive, so the kernel path needs no more than this.
constexpr std::uint64_t kBufferShareOfCap = 16;
// Not below the default cap's: smaller buffers stall the sender (above), so
// a cap under 8 MiB keeps the 512 KiB (1 MiB doubled) of the default.
constexpr std::uint64_t kSmallestBuffer = std::uint64_t{512} * 1024;
constexpr std::uint64_t kLargestBuffer = 1U << 30;

std::string fix_receive_buffer(int fd, std::uint64_t queue_cap) {
  const std::uint64_t wanted = sockmap_receive_buffer(queue_cap);
  if (wanted == 0) return {};
  const int size = static_cast<int>(wanted);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) != 0)
    return fmt::format("SO_RCVBUF {}: {}", size, std::strerror(errno));
  return {};
}

}  // namespace

std::uint64_t receive_buffer_max() {
  // Read once (0 if unreadable: then nothing is fixed).
  static const std::uint64_t max = [] {
    std::uint64_t value = 0;
    std::ifstream file("/proc/sys/net/core/rmem_max");
    if (!(file >> value)) value = 0;
    return value;
  }();
  return max;
}

std::uint64_t sockmap_receive_buffer_wanted(std::uint64_t queue_cap) {
  return std::clamp(queue_cap / kBufferShareOfCap, kSmallestBuffer, kLargestBuffer);
}

std::uint64_t sockmap_receive_buffer(std::uint64_t queue_cap) {
  const std::uint64_t wanted = sockmap_receive_buffer_wanted(queue_cap);
  return wanted > receive_buffer_max() ? 0 : wanted;
}

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
  for (const int fd : {client_fd, backend_fd})
    if (auto failed = fix_receive_buffer(fd, queue_cap); !failed.empty()) return failed;
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
