#pragma once
// What the sockmap layer asks the kernel about one TCP socket: its cookie
// (the sockhash key), its state (only ESTABLISHED sockets may be inserted)
// and its queues. Each is one getsockopt/ioctl on an fd the caller owns.
#include <cstdint>
#include <optional>

#include "common/result.hpp"

namespace sniproxy::bpf {

// SO_COOKIE: the 64-bit id BPF programs see as bpf_get_socket_cookie().
Result<std::uint64_t> socket_cookie(int fd);

// TCP_INFO tcpi_state, e.g. kTcpEstablished.
Result<std::uint8_t> tcp_state(int fd);
inline constexpr std::uint8_t kTcpEstablished = 1;  // TCP_ESTABLISHED in the kernel's tcp_states.h

// SIOCOUTQ: bytes in the send queue not yet acknowledged by the peer.
Result<std::uint64_t> send_queue_bytes(int fd);

// Bytes written into the socket's TCP stream so far, acknowledged or not:
// tcpi_bytes_acked + SIOCOUTQ, less the FIN's sequence number once one is
// queued. Read in that order, so bytes acknowledged between the two reads
// make the sum smaller, never larger, than the truth.
// `fin_queued`: whether this process shut the socket's writing side down
// (its FIN is then in the counters); without it the TCP state tells, which
// it cannot once the socket is CLOSED (a FIN or a reset may have led there).
Result<std::uint64_t> stream_bytes_written(int fd, std::optional<bool> fin_queued = std::nullopt);

// Bytes received and already read by userspace: tcpi_bytes_received minus
// SIOCINQ, re-read until no byte arrived in between (a consistent pair).
// Bytes only peeked are not read. Not for listening sockets.
Result<std::uint64_t> stream_bytes_read(int fd);

// TCP_INFO counters of one socket.
struct TcpCounters {
  std::uint64_t bytes_acked = 0;     // tcpi_bytes_acked
  std::uint64_t bytes_received = 0;  // tcpi_bytes_received
  std::uint32_t notsent_bytes = 0;   // tcpi_notsent_bytes
};
Result<TcpCounters> tcp_counters(int fd);

}  // namespace sniproxy::bpf
