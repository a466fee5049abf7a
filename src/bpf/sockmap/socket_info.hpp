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
// make the sum smaller, never larger, than the truth. SIOCOUTQ is skipped
// when TCP_INFO shows nothing in flight and nothing unsent (it is 0 then).
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
  std::uint32_t unacked = 0;         // tcpi_unacked: segments in flight
  std::uint8_t state = 0;            // tcpi_state
};
Result<TcpCounters> tcp_counters(int fd);

// What a socket's streams held when it was handed to the sockmap: its TCP
// state, stream_bytes_written() and stream_bytes_read(), from one
// consistent set of reads (two TCP_INFO and SIOCINQ; SIOCOUTQ only when
// something is unacknowledged or unsent: otherwise the send queue is empty).
// Of a socket that is not ESTABLISHED, only the state.
struct StreamBases {
  std::uint8_t state = 0;
  std::uint64_t written = 0;
  std::uint64_t read = 0;
};
Result<StreamBases> stream_bases(int fd);

}  // namespace sniproxy::bpf
