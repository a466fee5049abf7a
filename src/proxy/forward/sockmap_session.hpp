#pragma once
// A connection's place in the BPF sockhash: both sockets inserted together,
// removed when the last of its two directions lets go of it (at the
// connection's finish, just before its sockets close).
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "bpf/sockmap/sockmap.hpp"
#include "observe/metrics.hpp"

namespace sniproxy::proxy::forward {

// The receive buffer (SO_RCVBUF) each sockmap socket gets for `queue_cap`
// (sockmap_session.cpp says why); sockmap_receive_buffer() is that, or 0
// where net.core.rmem_max (receive_buffer_max()) is below it and the
// buffers stay autotuned.
std::uint64_t sockmap_receive_buffer_wanted(std::uint64_t queue_cap);
std::uint64_t sockmap_receive_buffer(std::uint64_t queue_cap);
std::uint64_t receive_buffer_max();

// Why SockmapSession::open() gave no session.
struct SockmapOpenFailure {
  std::string reason;
  // The client's bytes the insert sent to the backend itself before a map
  // refused a socket: off the client, so the mode that takes over starts
  // after them and its count does not hold them.
  std::uint64_t sent_ahead = 0;
  // The backend has bytes the client's stream still holds: nothing may
  // carry on, the connection ends.
  bool stream_broken = false;
};

class SockmapSession {
 public:
  // Sends `preamble` (a PROXY header) to the backend first, taking off what
  // was sent, then the first `send_ahead` bytes queued on the client (the
  // peeked hello: the kernel's redirect would be sent by a kworker, a
  // wake-up before the backend's first byte), then inserts both sockets.
  // Only the hello: taking more off the client opens its window, and a
  // client that sends its all and its FIN meanwhile leaves a socket the
  // sockhash refuses (not ESTABLISHED), which falls back. The failure says why the connection
  // cannot use the sockmap (it then forwards by splice, rest of the
  // preamble first, or ends if the stream broke).
  static std::variant<std::shared_ptr<SockmapSession>, SockmapOpenFailure> open(
      bpf::Sockmap& map, observe::SockmapMetrics& counted, int client_fd, int backend_fd,
      std::uint64_t queue_cap, std::vector<std::uint8_t>& preamble, std::size_t send_ahead);
  ~SockmapSession();
  SockmapSession(const SockmapSession&) = delete;
  SockmapSession& operator=(const SockmapSession&) = delete;

  bpf::Sockmap& map() { return map_; }
  [[nodiscard]] const bpf::SockPair& pair() const { return pair_; }
  observe::SockmapMetrics& counted() { return counted_; }

 private:
  SockmapSession(bpf::Sockmap& map, observe::SockmapMetrics& counted, bpf::SockPair pair)
      : map_(map), counted_(counted), pair_(pair) {}
  bpf::Sockmap& map_;
  observe::SockmapMetrics& counted_;
  bpf::SockPair pair_;
};

}  // namespace sniproxy::proxy::forward
