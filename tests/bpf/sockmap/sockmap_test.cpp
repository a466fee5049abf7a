// bpf::Sockmap on real loopback sockets, as a proxy holds them: C (client)
// -> A (accepted) | B (connected) -> B' (backend). The test inserts (A, B)
// and never copies a byte itself unless it plays the proxy's userspace path.
// Every transfer is bounded in bytes and time.
#include "bpf/sockmap/sockmap.hpp"

#include <bcc/libbpf.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bpf/sockmap/socket_info.hpp"
#include "sockmap/sockmap_sockets.hpp"
#include "sockmap/sockmap_userspace_path.hpp"
#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::make_proxied_sockets;
using testing::ProxiedSockets;
using testing::shared_sockmap;
using testing::wait_for;

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kUnlimited = std::uint64_t{1} << 62;
constexpr std::uint32_t kClientStream = 1;  // pattern of what the client sends
constexpr std::uint32_t kBackendStream = 2;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint64_t value_or_zero(const Result<std::uint64_t>& result) {
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? *result : 0;
}

// Entries in a BPF hash-like map (walks the keys).
int entries(int map_fd) {
  std::uint64_t key = 0;
  std::uint64_t next = 0;
  int count = 0;
  void* previous = nullptr;
  while (bpf_get_next_key(map_fd, previous, &next) == 0) {
    ++count;
    key = next;
    previous = &key;
  }
  return count;
}

// SO_MEMINFO: receive + send-queue memory charged to a socket.
std::uint64_t charged_bytes(int fd) {
  std::uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &length) != 0) return 0;
  return std::uint64_t{info[SK_MEMINFO_RMEM_ALLOC]} + info[SK_MEMINFO_WMEM_QUEUED];
}

class SockmapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    map_ = shared_sockmap();
    ASSERT_NE(map_, nullptr);
    sockets_ = make_proxied_sockets();
    ASSERT_TRUE(sockets_.backend.valid());
  }
  void TearDown() override {
    if (inserted_) map_->remove(pair_);
  }
  void insert(std::uint64_t cap) {
    auto inserted = map_->insert(sockets_.accepted.get(), sockets_.connect.get(), cap);
    ASSERT_TRUE(inserted.ok()) << inserted.error().message;
    pair_ = *inserted;
    inserted_ = true;
  }
  ForwardState state(Direction direction) {
    auto current = map_->state(pair_, direction);
    EXPECT_TRUE(current.ok()) << current.error().message;
    return current.ok() ? *current : ForwardState{};
  }
  // Waits (bounded) until the direction is drained, after the source's EOF.
  bool wait_drained(Direction direction, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto drained = map_->drained(pair_, direction);
      if (!drained.ok()) {
        ADD_FAILURE() << drained.error().message;
        return false;
      }
      if (*drained) return true;
      std::this_thread::sleep_for(1ms);
    }
    ForwardState now = state(direction);
    int source = direction == Direction::client_to_backend ? pair_.client_fd : pair_.backend_fd;
    auto counters = tcp_counters(source);
    auto control = map_->control(pair_, direction);
    std::printf(
        "not drained: received %llu (base %llu) redirected %llu passed %llu unpaired %llu consumed "
        "%llu unflushed %llu\n",
        (unsigned long long)counters->bytes_received, (unsigned long long)pair_.client_read_base,
        (unsigned long long)now.redirected, (unsigned long long)now.passed,
        (unsigned long long)now.unpaired, (unsigned long long)control->consumed,
        (unsigned long long)value_or_zero(map_->unflushed(pair_, direction)));
    return false;
  }

  Sockmap* map_ = nullptr;
  ProxiedSockets sockets_;
  SockPair pair_;
  bool inserted_ = false;
};

// 1 + 5: bulk both ways at once, byte-exact, nothing through userspace; the
// byte counts from TCP's counters equal the bytes that left each proxy socket.
TEST_F(SockmapTest, ForwardsBothWaysConcurrentlyByteExact) {
  constexpr std::uint64_t kTotal = 64 * kMiB;
  insert(kUnlimited);
  std::int64_t at_backend = 0;
  std::int64_t at_client = 0;
  auto start = Clock::now();
  std::thread to_backend(
      [&] { testing::write_pattern(sockets_.client.get(), kClientStream, kTotal); });
  std::thread to_client(
      [&] { testing::write_pattern(sockets_.backend.get(), kBackendStream, kTotal); });
  std::thread backend_reader([&] {
    at_backend = testing::read_and_check(sockets_.backend.get(), kClientStream, kTotal, 20s);
  });
  at_client = testing::read_and_check(sockets_.client.get(), kBackendStream, kTotal, 20s);
  backend_reader.join();
  to_backend.join();
  to_client.join();
  double elapsed = seconds_since(start);
  EXPECT_EQ(at_backend, static_cast<std::int64_t>(kTotal));
  EXPECT_EQ(at_client, static_cast<std::int64_t>(kTotal));

  for (Direction direction : {Direction::client_to_backend, Direction::backend_to_client}) {
    ForwardState forwarded = state(direction);
    EXPECT_EQ(forwarded.redirected, kTotal);
    EXPECT_EQ(forwarded.passed, 0u);  // not one byte through userspace
    EXPECT_FALSE(forwarded.over);
    EXPECT_EQ(forwarded.unpaired, 0u);
    // 5: the peer's TCP stream grew by exactly the forwarded bytes.
    EXPECT_EQ(value_or_zero(map_->forwarded_bytes(pair_, direction)), kTotal);
    EXPECT_EQ(value_or_zero(map_->unflushed(pair_, direction)), 0u);
  }
  std::printf("sockmap: 64 MiB each way at once in %.3f s (%.0f MB/s per direction)\n", elapsed,
              kTotal / elapsed / 1e6);
  RecordProperty("both_ways_64MiB_ms", static_cast<int>(elapsed * 1000));
}

// 2: bytes the client sent before the insert, only peeked, go first.
TEST_F(SockmapTest, PeekedHelloIsForwardedFirstAndInOrder) {
  constexpr std::uint64_t kHello = 500;
  constexpr std::uint64_t kRest = 1 * kMiB;
  ASSERT_EQ(testing::write_pattern(sockets_.client.get(), kClientStream, kHello), kHello);
  std::vector<std::uint8_t> peeked(kHello);
  for (auto deadline = Clock::now() + 2s; Clock::now() < deadline;) {
    ssize_t got = ::recv(sockets_.accepted.get(), peeked.data(), kHello, MSG_PEEK | MSG_DONTWAIT);
    if (got == static_cast<ssize_t>(kHello)) break;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(testing::first_mismatch(kClientStream, 0, peeked), -1);
  insert(kUnlimited);
  // The hello arrives with no further byte from the client: the SO_RCVLOWAT
  // kick put the queued bytes on the redirect path.
  EXPECT_EQ(testing::read_and_check(sockets_.backend.get(), kClientStream, kHello, 2s),
            static_cast<std::int64_t>(kHello));
  // Then the rest continues the same stream.
  std::thread writer([&] {
    std::vector<std::uint8_t> chunk(kRest);
    testing::fill_pattern(kClientStream, kHello, chunk);
    EXPECT_EQ(::send(sockets_.client.get(), chunk.data(), chunk.size(), 0),
              static_cast<ssize_t>(kRest));
  });
  std::vector<std::uint8_t> rest(kRest);
  std::uint64_t got = 0;
  while (got < kRest && wait_for(sockets_.backend.get(), POLLIN, 2000ms) != 0) {
    ssize_t n = ::recv(sockets_.backend.get(), rest.data() + got, kRest - got, 0);
    if (n <= 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  writer.join();
  EXPECT_EQ(got, kRest);
  EXPECT_EQ(testing::first_mismatch(kClientStream, kHello, rest), -1);
  EXPECT_EQ(state(Direction::client_to_backend).redirected, kHello + kRest);
}

// 3: half-close carried each way: POLLRDHUP on the source without reading,
// wait until drained, then shutdown(peer, SHUT_WR); the far end sees every
// byte, then EOF, while the other direction keeps flowing.
TEST_F(SockmapTest, HalfCloseIsCarriedAfterTheLastByte) {
  constexpr std::uint64_t kTotal = 4 * kMiB;
  insert(kUnlimited);
  std::int64_t at_backend = 0;
  std::thread backend_reader([&] {
    at_backend = testing::read_and_check(sockets_.backend.get(), kClientStream, kTotal + 1, 10s);
  });
  // (EXPECT, not ASSERT, while a thread runs: it must be joined.)
  EXPECT_EQ(testing::write_pattern(sockets_.client.get(), kClientStream, kTotal), kTotal);
  EXPECT_EQ(::shutdown(sockets_.client.get(), SHUT_WR), 0);
  short events = wait_for(sockets_.accepted.get(), POLLRDHUP, 5000ms);
  EXPECT_NE(events & POLLRDHUP, 0) << "no POLLRDHUP on A after the client's FIN";
  EXPECT_TRUE(wait_drained(Direction::client_to_backend, 5s));
  EXPECT_EQ(::shutdown(sockets_.connect.get(), SHUT_WR), 0);
  backend_reader.join();
  EXPECT_EQ(at_backend, static_cast<std::int64_t>(kTotal));  // all bytes, then EOF

  // The other direction still works, and closes the same way.
  std::int64_t at_client = 0;
  std::thread client_reader([&] {
    at_client = testing::read_and_check(sockets_.client.get(), kBackendStream, kTotal + 1, 10s);
  });
  EXPECT_EQ(testing::write_pattern(sockets_.backend.get(), kBackendStream, kTotal), kTotal);
  EXPECT_EQ(::shutdown(sockets_.backend.get(), SHUT_WR), 0);
  events = wait_for(sockets_.connect.get(), POLLRDHUP, 5000ms);
  EXPECT_NE(events & POLLRDHUP, 0) << "no POLLRDHUP on B after the backend's FIN";
  EXPECT_TRUE(wait_drained(Direction::backend_to_client, 5s));
  EXPECT_EQ(::shutdown(sockets_.accepted.get(), SHUT_WR), 0);
  client_reader.join();
  EXPECT_EQ(at_client, static_cast<std::int64_t>(kTotal));
}

// Samples taken while the backend does not read.
struct BoundSamples {
  std::uint64_t max_peer_queue = 0;  // SIOCOUTQ(B)
  std::uint64_t max_unflushed = 0;   // redirected, not yet in B's stream
  std::uint64_t max_charged = 0;     // SO_MEMINFO of C, A, B, B'
  long max_tcp_pages_growth = 0;     // /proc/net/sockstat, all of the system
};

// 4: the bound. The backend stops reading: the kernel queues at most `cap`
// for it, the rest is passed to A, TCP backpressure stalls the client. Then
// the backend reads and the test plays the proxy's userspace path until all
// bytes arrived in order and the kernel path has resumed (after a pause in
// the client's traffic: see the writer).
TEST_F(SockmapTest, BoundsKernelMemoryWhenTheBackendStopsReading) {
  constexpr std::uint64_t kCap = 4 * kMiB;
  constexpr std::uint64_t kMaxOffered = 1024 * kMiB;
  constexpr std::uint64_t kTotal = 96 * kMiB;  // sent in all once the backend reads again
  insert(kCap);
  testing::set_nonblocking(sockets_.client.get());
  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> allowed{kMaxOffered};
  std::atomic<std::uint64_t> pause_at{kMaxOffered};
  std::atomic<bool> paused{false};
  std::atomic<bool> stop{false};
  // Whether the kernel path would take the next skb: everything the client
  // sent so far was judged, userspace sent every passed byte, and the limit
  // leaves room. Read-only map and socket queries, safe from the writer.
  auto kernel_would_redirect = [&] {
    auto now = map_->state(pair_, Direction::client_to_backend);
    auto control = map_->control(pair_, Direction::client_to_backend);
    auto received = tcp_counters(pair_.client_fd);
    if (!now.ok() || !control.ok() || !received.ok()) return false;
    return received->bytes_received - pair_.client_read_base == now->redirected + now->passed &&
           now->passed == control->consumed && control->limit >= now->redirected + kCap / 2;
  };
  std::thread writer([&] {
    std::vector<std::uint8_t> chunk(1 << 16);
    while (!stop && written < allowed) {
      if (written >= pause_at && !paused) {
        // A pause in the client's traffic, once: the kernel resumes only when
        // userspace has caught up before the next skb is judged, which a
        // sender as fast as the userspace copy can keep from happening.
        paused = true;
        for (auto until = Clock::now() + 5s; !stop && Clock::now() < until;) {
          if (kernel_would_redirect()) break;
          std::this_thread::sleep_for(1ms);
        }
      }
      std::uint64_t at = written;
      std::size_t size = std::min<std::uint64_t>(chunk.size(), allowed - at);
      testing::fill_pattern(kClientStream, at, std::span(chunk.data(), size));
      ssize_t sent = ::send(sockets_.client.get(), chunk.data(), size, MSG_NOSIGNAL);
      if (sent > 0) {
        written += static_cast<std::uint64_t>(sent);
      } else if (sent < 0 && errno == EAGAIN) {
        wait_for(sockets_.client.get(), POLLOUT, 50ms);
      } else {
        ADD_FAILURE() << "client send: " << std::strerror(errno);
        return;
      }
    }
    if (!stop) ::shutdown(sockets_.client.get(), SHUT_WR);
  });

  // Phase 1: nobody reads. Sample until the client has stalled for 1 s.
  BoundSamples samples;
  long pages_before = testing::tcp_memory_pages();
  std::uint64_t last_written = 0;
  auto last_progress = Clock::now();
  auto phase_start = Clock::now();
  int fds[] = {sockets_.client.get(), sockets_.accepted.get(), sockets_.connect.get(),
               sockets_.backend.get()};
  while (Clock::now() - last_progress < 1s && Clock::now() - phase_start < 20s) {
    samples.max_peer_queue =
        std::max(samples.max_peer_queue, value_or_zero(send_queue_bytes(sockets_.connect.get())));
    samples.max_unflushed = std::max(
        samples.max_unflushed, value_or_zero(map_->unflushed(pair_, Direction::client_to_backend)));
    std::uint64_t charged = 0;
    for (int fd : fds) charged += charged_bytes(fd);
    samples.max_charged = std::max(samples.max_charged, charged);
    samples.max_tcp_pages_growth =
        std::max(samples.max_tcp_pages_growth, testing::tcp_memory_pages() - pages_before);
    if (written != last_written) {
      last_written = written;
      last_progress = Clock::now();
    }
    std::this_thread::sleep_for(10ms);
  }
  ForwardState stalled = state(Direction::client_to_backend);
  short a_events = wait_for(sockets_.accepted.get(), POLLIN, 0ms);
  std::printf(
      "bound: client stalled after %llu bytes; redirected %llu passed %llu over %d; max "
      "SIOCOUTQ(B) "
      "%llu, max unflushed %llu, max charged to the 4 sockets %llu, sockstat TCP mem growth %ld "
      "pages; A polls POLLIN: %s\n",
      (unsigned long long)last_written, (unsigned long long)stalled.redirected,
      (unsigned long long)stalled.passed, stalled.over, (unsigned long long)samples.max_peer_queue,
      (unsigned long long)samples.max_unflushed, (unsigned long long)samples.max_charged,
      samples.max_tcp_pages_growth, (a_events & POLLIN) ? "yes" : "no");
  EXPECT_TRUE(stalled.over);
  EXPECT_LE(stalled.redirected, kCap);
  EXPECT_GT(stalled.passed, 0u);
  EXPECT_LE(samples.max_peer_queue, kCap);
  EXPECT_LE(samples.max_unflushed, kCap);
  EXPECT_LT(last_written, 64 * kMiB);  // stalled by TCP, far below the 1 GiB offered
  EXPECT_LT(samples.max_charged, 64 * kMiB);
  EXPECT_NE(a_events & POLLIN, 0) << "SK_PASS data does not wake POLLIN on A";

  // Phase 2: the backend reads; the client finishes kTotal, pausing once
  // halfway, and shuts down.
  std::uint64_t total = std::max<std::uint64_t>(kTotal, last_written);
  pause_at = last_written + (total - last_written) / 2;
  allowed = total;
  std::int64_t at_backend = 0;
  std::thread backend_reader([&] {
    at_backend = testing::read_and_check(sockets_.backend.get(), kClientStream, total + 1, 30s);
  });
  testing::UserspacePath path(*map_, pair_, Direction::client_to_backend, kCap);
  auto deadline = Clock::now() + 30s;
  bool closed = false;
  while (Clock::now() < deadline && !::testing::Test::HasFailure()) {
    if (!path.step()) break;
    if (written == total && (wait_for(sockets_.accepted.get(), POLLRDHUP, 0ms) & POLLRDHUP)) {
      auto drained = map_->drained(pair_, Direction::client_to_backend);
      if (!drained.ok()) {
        ADD_FAILURE() << drained.error().message;
        break;
      }
      if (*drained) {
        closed = ::shutdown(sockets_.connect.get(), SHUT_WR) == 0;
        break;
      }
    }
    wait_for(sockets_.accepted.get(), POLLIN, 1ms);
  }
  stop = true;
  writer.join();
  backend_reader.join();
  ForwardState end = state(Direction::client_to_backend);
  std::printf(
      "bound, phase 2: %llu bytes in all; redirected %llu, through userspace %llu (%llu waits for "
      "the kernel queue), %llu resumes, %llu raises\n",
      (unsigned long long)total, (unsigned long long)end.redirected,
      (unsigned long long)path.moved(), (unsigned long long)path.waits(),
      (unsigned long long)path.resumes(), (unsigned long long)path.raises());
  EXPECT_TRUE(closed);
  EXPECT_EQ(at_backend, static_cast<std::int64_t>(total));  // every byte, in order, then EOF
  EXPECT_EQ(end.redirected + end.passed, total);
  EXPECT_EQ(path.moved(), end.passed);
  EXPECT_GE(path.resumes(), 1u);
  EXPECT_GT(end.redirected, path.redirected_at_first_resume());  // the kernel path resumed
  // 5: what left B = what the kernel redirected + what userspace sent.
  EXPECT_EQ(value_or_zero(map_->forwarded_bytes(pair_, Direction::client_to_backend)), total);
}

// 6: only ESTABLISHED sockets go in.
TEST_F(SockmapTest, RefusesSocketsThatAreNotEstablished) {
  UniqueFd listener = testing::make_listener();
  UniqueFd unconnected = testing::make_unconnected_socket();
  for (int fd : {listener.get(), unconnected.get()}) {
    auto as_client = map_->insert(fd, sockets_.connect.get(), kUnlimited);
    ASSERT_FALSE(as_client.ok());
    EXPECT_EQ(as_client.error().kind, InsertFailureKind::not_established)
        << as_client.error().message;
    auto as_backend = map_->insert(sockets_.accepted.get(), fd, kUnlimited);
    ASSERT_FALSE(as_backend.ok());
    EXPECT_EQ(as_backend.error().kind, InsertFailureKind::not_established);
  }
  auto listening = map_->insert(listener.get(), sockets_.connect.get(), kUnlimited);
  EXPECT_NE(listening.error().message.find("not ESTABLISHED"), std::string::npos)
      << listening.error().message;
}

// 6: a full map refuses the next pair and leaves nothing of it behind;
// remove() is idempotent; a socket cannot be paired twice.
TEST(SockmapLimits, FullMapRefusesWithoutPartialEntries) {
  SKIP_UNLESS_ROOT();
  auto created = Sockmap::create(SockmapOptions{2, {}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  Sockmap& map = **created;
  ProxiedSockets first = make_proxied_sockets();
  ProxiedSockets second = make_proxied_sockets();
  auto inserted = map.insert(first.accepted.get(), first.connect.get(), kUnlimited);
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;
  auto full = map.insert(second.accepted.get(), second.connect.get(), kUnlimited);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().kind, InsertFailureKind::map_full) << full.error().message;
  const auto& fds = map.maps();
  for (int fd : {fds.sockets, fds.links}) EXPECT_EQ(entries(fd), 2);

  auto again = map.insert(first.accepted.get(), first.connect.get(), kUnlimited);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, InsertFailureKind::other) << again.error().message;
  for (int fd : {fds.sockets, fds.links}) EXPECT_EQ(entries(fd), 2);

  // The first pair still forwards.
  const char ping[] = "ping";
  ASSERT_EQ(::send(first.client.get(), ping, sizeof ping, 0), static_cast<ssize_t>(sizeof ping));
  char got[sizeof ping] = {};
  ASSERT_NE(wait_for(first.backend.get(), POLLIN, 2000ms), 0);
  EXPECT_EQ(::recv(first.backend.get(), got, sizeof got, 0), static_cast<ssize_t>(sizeof ping));

  map.remove(*inserted);
  map.remove(*inserted);
  for (int fd : {fds.sockets, fds.links}) EXPECT_EQ(entries(fd), 0);
  // Room again for the second pair.
  auto now_fits = map.insert(second.accepted.get(), second.connect.get(), kUnlimited);
  EXPECT_TRUE(now_fits.ok()) << now_fits.error().message;
  if (now_fits.ok()) map.remove(*now_fits);
}

void abort_with_reset(int fd) {
  linger reset{1, 0};
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
  ::close(fd);
}

// 7: a reset mid-transfer shows on A; the proxy resets B and the backend
// sees ECONNRESET.
TEST_F(SockmapTest, ResetMidTransferReachesTheBackend) {
  insert(kUnlimited);
  ASSERT_EQ(testing::write_pattern(sockets_.client.get(), kClientStream, 256 * 1024), 256u * 1024);
  abort_with_reset(sockets_.client.release());
  short events = wait_for(sockets_.accepted.get(), POLLIN | POLLRDHUP, 2000ms);
  char byte = 0;
  ssize_t got = ::recv(sockets_.accepted.get(), &byte, 1, MSG_DONTWAIT);
  int recv_error = errno;
  std::printf("reset: A polls 0x%x (POLLERR %d, POLLHUP %d), recv %zd (%s)\n", events,
              (events & POLLERR) != 0, (events & POLLHUP) != 0, got,
              got < 0 ? std::strerror(recv_error) : "-");
  EXPECT_TRUE((events & (POLLERR | POLLHUP)) != 0 || (got < 0 && recv_error == ECONNRESET));

  // The proxy tears down: out of the maps, both reset.
  map_->remove(pair_);
  inserted_ = false;
  abort_with_reset(sockets_.accepted.release());
  abort_with_reset(sockets_.connect.release());
  std::vector<std::uint8_t> buffer(1 << 16);
  int error = 0;
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    if (wait_for(sockets_.backend.get(), POLLIN, 1000ms) == 0) continue;
    ssize_t n = ::recv(sockets_.backend.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) continue;  // bytes forwarded before the reset
    error = n < 0 ? errno : 0;
    if (n < 0 && errno == EAGAIN) continue;
    break;
  }
  EXPECT_EQ(error, ECONNRESET) << std::strerror(error);
}

}  // namespace
}  // namespace sniproxy::bpf
