#pragma once
// Loopback sockets for the sockmap tests: a client C connected to a proxy
// socket A (accepted from listener L1) and a proxy socket B connected to a
// backend B' (accepted from listener L2), as a proxy holds them; a byte
// pattern that tells where in a stream a byte belongs; and small bounded
// helpers for polling and moving bytes.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "bpf/sockmap/sockmap.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf::testing {

// One Sockmap for the test binary (1024 sockets): each compile costs ~0.5 s
// and ~60 MB of RSS. Null (with a test failure) if it cannot be created.
Sockmap* shared_sockmap();

struct ProxiedSockets {
  UniqueFd client;    // C: the client's end
  UniqueFd accepted;  // A: the proxy's client-side socket
  UniqueFd connect;   // B: the proxy's backend-side socket
  UniqueFd backend;   // B': the backend's end
};

// Both connections established on 127.0.0.1 (ADD_FAILURE and invalid fds
// on error). The listeners are closed again.
ProxiedSockets make_proxied_sockets();

// A listening socket and a socket that was never connected.
UniqueFd make_listener();
UniqueFd make_unconnected_socket();

// The byte at `offset` of pattern stream `stream` (streams differ, and no
// short period hides a lost or repeated block).
std::uint8_t pattern_byte(std::uint32_t stream, std::uint64_t offset);
void fill_pattern(std::uint32_t stream, std::uint64_t offset, std::span<std::uint8_t> out);
// The offset of the first byte of `data` that is not pattern(stream,
// offset + i), or -1 when all match.
std::int64_t first_mismatch(std::uint32_t stream, std::uint64_t offset,
                            std::span<const std::uint8_t> data);

void set_nonblocking(int fd);
// poll(2) for `events` for at most `timeout`; the revents (0 on timeout).
short wait_for(int fd, short events, std::chrono::milliseconds timeout);

// Writes `total` pattern bytes to `fd` (blocking), returns what was written.
std::uint64_t write_pattern(int fd, std::uint32_t stream, std::uint64_t total);
// Reads until EOF or `total` bytes, checking the pattern; returns the bytes
// read, or -1 after the first mismatch (reported with ADD_FAILURE).
std::int64_t read_and_check(int fd, std::uint32_t stream, std::uint64_t total,
                            std::chrono::milliseconds timeout);

// /proc/net/sockstat "TCP: ... mem N": pages of TCP memory in the system.
long tcp_memory_pages();

}  // namespace sniproxy::bpf::testing
