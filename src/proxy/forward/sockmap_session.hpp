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

class SockmapSession {
 public:
  // Sends `preamble` (a PROXY header) to the backend first, taking off what
  // was sent, then inserts both sockets. The error says why the connection
  // cannot use the sockmap (it then forwards by splice, rest of the
  // preamble first).
  static std::variant<std::shared_ptr<SockmapSession>, std::string> open(
      bpf::Sockmap& map, observe::SockmapMetrics& counted, int client_fd, int backend_fd,
      std::uint64_t queue_cap, std::vector<std::uint8_t>& preamble);
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
