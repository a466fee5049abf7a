#pragma once
// Bounded socket I/O for the integration tests: every call takes a Deadline,
// every socket is non-blocking and every wait is a poll(2) with a timeout, so
// no test can hang on a proxy that misbehaves.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::integration {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A point in time after which a wait gives up. `cancel` (optional) lets an
// owner such as a Backend stop its handler threads early.
struct Deadline {
  Clock::time_point at;
  const std::atomic<bool>* cancel = nullptr;

  static Deadline in(milliseconds from_now, const std::atomic<bool>* cancel = nullptr) {
    return Deadline{Clock::now() + from_now, cancel};
  }
  [[nodiscard]] bool expired() const;
  // How long one poll may wait: the time left, in short slices when
  // cancellable so a cancel is noticed promptly.
  [[nodiscard]] int poll_timeout_ms() const;
};

enum class IoStatus { ok, eof, reset, timeout, error };
std::string_view to_string(IoStatus status);

Endpoint loopback(std::uint16_t port);
Endpoint local_endpoint(int fd);
Endpoint peer_endpoint(int fd);

struct ConnectResult {
  UniqueFd fd;    // valid when connected
  int error = 0;  // errno when not (ETIMEDOUT when the deadline passed)
};
ConnectResult connect_tcp(const Endpoint& to, Deadline deadline);
// Waits for a non-blocking connect() in progress on `fd` to finish; the
// result carries the socket, or the connect's error (ETIMEDOUT at `deadline`).
ConnectResult await_connected(UniqueFd fd, Deadline deadline);

// A listening, non-blocking socket bound to `at` (port 0 picks one).
UniqueFd listen_tcp(const Endpoint& at, int backlog = 128);
// Accepts one connection (returned non-blocking) or an invalid fd.
UniqueFd accept_one(int listen_fd, Deadline deadline);

// Waits for `events` on fd; false on timeout or cancel.
bool wait_for(int fd, short events, Deadline deadline);

IoStatus send_all(int fd, std::span<const std::uint8_t> bytes, Deadline deadline);
IoStatus send_all(int fd, std::string_view text, Deadline deadline);
// Reads exactly n bytes (appended to out); anything short reports why.
IoStatus read_exact(int fd, std::size_t n, std::vector<std::uint8_t>& out, Deadline deadline);
// Reads whatever is available (at least one byte), appended to out.
IoStatus read_some(int fd, std::vector<std::uint8_t>& out, Deadline deadline);

struct ReadAll {
  std::vector<std::uint8_t> bytes;
  IoStatus status = IoStatus::timeout;  // eof, reset, timeout or error
};
// Reads until the peer closes (eof or reset) or the deadline passes; stops
// early (status ok) once more than `limit` bytes arrived.
ReadAll read_until_closed(int fd, Deadline deadline, std::size_t limit = 64u << 20);

// Sets SO_LINGER 0 and closes, so the peer sees an RST.
void close_with_reset(UniqueFd& fd);
void shutdown_write(int fd);

std::vector<std::uint8_t> to_bytes(std::string_view text);
std::string to_text(std::span<const std::uint8_t> bytes);

}  // namespace sniproxy::integration
