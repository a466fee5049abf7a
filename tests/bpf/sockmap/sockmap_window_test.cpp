// What the sender sees after userspace takes the bytes a verdict passed
// (SK_PASS) once they filled the receiving socket's memory and closed its
// window: taken with one recv(), the window stays shut until a delayed ACK
// or the sender's persist timer (tens to hundreds of ms); taken in 64 KiB
// recv()s, each frees room and sends a window update. The sockmap
// forwarder takes passed runs in chunks for this reason. The test asserts
// what holds on any kernel (the bytes taken are the bytes held, the window
// reopens) and prints how long the reopening took; bounded in bytes and
// time.
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bpf/sockmap/socket_info.hpp"
#include "bpf/sockmap/sockmap.hpp"
#include "sockmap/sockmap_sockets.hpp"
#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kReceiveBuffer = 256 * 1024;  // the kernel doubles it
constexpr std::uint64_t kWindowTestCap = 64 * 1024;
constexpr std::uint64_t kMostToSend = 256ULL << 20;

// TCP_INFO's tcpi_bytes_acked of `fd` (0 if it fails).
std::uint64_t bytes_acked(int fd) {
  auto counters = tcp_counters(fd);
  return counters ? counters->bytes_acked : 0;
}

// Writes from `fd` (non-blocking) until nothing more goes for 300 ms, at
// most kMostToSend bytes and 10 s; returns the bytes written.
std::uint64_t send_until_stalled(int fd) {
  std::vector<std::uint8_t> chunk(64 * 1024, 0x5a);
  std::uint64_t sent = 0;
  const auto deadline = Clock::now() + 10s;
  auto last_progress = Clock::now();
  while (sent < kMostToSend && Clock::now() < deadline && Clock::now() - last_progress < 300ms) {
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::uint64_t>(n);
      last_progress = Clock::now();
      continue;
    }
    pollfd writable{fd, POLLOUT, 0};
    (void)::poll(&writable, 1, 20);
  }
  return sent;
}

// Takes what `fd` holds now (SIOCINQ: the passed bytes) in recv()s of at
// most `chunk` bytes; returns the bytes taken.
std::uint64_t take_held(int fd, std::size_t chunk) {
  int readable = 0;
  if (::ioctl(fd, SIOCINQ, &readable) != 0 || readable <= 0) return 0;
  const auto held = static_cast<std::size_t>(readable);
  std::vector<std::uint8_t> buffer(std::min(chunk, held));
  std::size_t taken = 0;
  for (int round = 0; round < 100000 && taken < held; ++round) {
    const ssize_t n =
        ::recv(fd, buffer.data(), std::min(buffer.size(), held - taken), MSG_DONTWAIT);
    if (n <= 0) break;
    taken += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(taken, held) << "recv() returned less than SIOCINQ showed";
  return taken;
}

// How long until `sender` (stalled, its send buffer full) gets a byte
// acknowledged again, i.e. has been given window to send (up to 2 s).
std::optional<std::chrono::milliseconds> time_to_reopen(int sender, std::uint64_t acked_before) {
  const auto start = Clock::now();
  while (Clock::now() - start < 2s) {
    if (bytes_acked(sender) > acked_before)
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    std::this_thread::sleep_for(1ms);
  }
  return std::nullopt;
}

// The client stalls against a sockmap'd socket whose memory is full of
// passed bytes (the backend reads nothing, so past the cap and what the
// backend's socket buffers take the verdict passes every skb); userspace
// then takes them in recv()s of `chunk` bytes.
struct Reopening {
  std::uint64_t passed = 0;
  std::uint64_t taken = 0;
  std::optional<std::chrono::milliseconds> after;
};

Reopening stall_then_take(Sockmap& map, std::size_t chunk) {
  Reopening result;
  testing::ProxiedSockets sockets = testing::make_proxied_sockets();
  if (!sockets.backend.valid()) return result;
  EXPECT_EQ(::setsockopt(sockets.accepted.get(), SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer,
                         sizeof kReceiveBuffer),
            0);
  auto inserted = map.insert(sockets.accepted.get(), sockets.connect.get(), kWindowTestCap);
  if (!inserted.ok()) {
    ADD_FAILURE() << inserted.error().message;
    return result;
  }
  const std::uint64_t sent = send_until_stalled(sockets.client.get());
  EXPECT_LT(sent, kMostToSend) << "the client never stalled";
  const std::uint64_t acked = bytes_acked(sockets.client.get());
  auto before = map.state(*inserted, Direction::client_to_backend);
  result.taken = take_held(sockets.accepted.get(), chunk);
  result.after = time_to_reopen(sockets.client.get(), acked);
  map.remove(*inserted);
  EXPECT_TRUE(before.ok());
  if (before.ok()) result.passed = before->passed;
  return result;
}

std::string shown(const std::optional<std::chrono::milliseconds>& after) {
  return after ? std::to_string(after->count()) + " ms" : std::string("not within 2 s");
}

TEST(SockmapWindowTest, PassedBytesTakenInChunksReopenTheSendersWindow) {
  SKIP_UNLESS_ROOT();
  Sockmap* map = testing::shared_sockmap();
  ASSERT_NE(map, nullptr);
  const Reopening whole = stall_then_take(*map, std::size_t{1} << 30);
  const Reopening chunked = stall_then_take(*map, 64 * 1024);
  std::printf("passed bytes taken in one recv(): %llu of %llu, window reopened after %s\n",
              static_cast<unsigned long long>(whole.taken),
              static_cast<unsigned long long>(whole.passed), shown(whole.after).c_str());
  std::printf("passed bytes taken in 64 KiB recv()s: %llu of %llu, window reopened after %s\n",
              static_cast<unsigned long long>(chunked.taken),
              static_cast<unsigned long long>(chunked.passed), shown(chunked.after).c_str());
  // The window closed on passed bytes, and userspace took exactly those.
  EXPECT_GT(whole.passed, 0U);
  EXPECT_GT(chunked.passed, 0U);
  EXPECT_EQ(whole.taken, whole.passed);
  EXPECT_EQ(chunked.taken, chunked.passed);
  // Either way the window reopens in the end (at the latest the sender's
  // persist timer probes it).
  EXPECT_TRUE(whole.after.has_value());
  EXPECT_TRUE(chunked.after.has_value());
}

}  // namespace
}  // namespace sniproxy::bpf
