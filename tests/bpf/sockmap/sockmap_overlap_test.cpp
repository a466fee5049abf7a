// A retransmit that partly overlaps bytes the proxy socket already received
// and forwarded. TCP queues such a segment whole; the verdict must forward
// only its new bytes. The sender is made to retransmit on demand with
// TCP_REPAIR (tcp_rewind.hpp), on real loopback sockets.
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <linux/sockios.h>

#include <gtest/gtest.h>

#include "bpf/sockmap/sockmap.hpp"
#include "sockmap/sockmap_sockets.hpp"
#include "sockmap/tcp_rewind.hpp"
#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

using namespace std::chrono_literals;
using testing::wait_for;

constexpr std::uint32_t kOverlapStream = 7;
constexpr std::uint64_t kNoLimit = std::uint64_t{1} << 62;

std::uint64_t unsent_or_unacked(int fd) {
  int queued = 0;
  return ::ioctl(fd, SIOCOUTQ, &queued) == 0 ? static_cast<std::uint64_t>(queued) : ~0ull;
}

// Reads up to `total` bytes (bounded by `timeout`) into a buffer.
std::vector<std::uint8_t> read_bytes(int fd, std::size_t total, std::chrono::milliseconds timeout) {
  std::vector<std::uint8_t> data(total);
  std::size_t have = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (have < total && std::chrono::steady_clock::now() < deadline) {
    if ((wait_for(fd, POLLIN, 50ms) & POLLIN) == 0) continue;
    ssize_t n = ::recv(fd, data.data() + have, total - have, MSG_DONTWAIT);
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
  }
  data.resize(have);
  return data;
}

// The parameter: how many old bytes the retransmit repeats. The verdict cuts
// at most 4095 per bpf_skb_adjust_room call, so the larger ones take several.
class SockmapOverlap : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(SockmapOverlap, RetransmitOverlappingForwardedBytesSendsOnlyItsNewBytes) {
  SKIP_UNLESS_ROOT();
  auto created = Sockmap::create(SockmapOptions{16, {}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  Sockmap& map = **created;
  auto sockets = testing::make_proxied_sockets();
  ASSERT_TRUE(sockets.backend.valid());
  auto inserted = map.insert(sockets.accepted.get(), sockets.connect.get(), kNoLimit);
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;

  const std::uint32_t kOld = GetParam();  // resent bytes the backend already has
  const std::uint64_t kFirst = kOld + 2000;
  constexpr std::uint64_t kNew = 500;
  ASSERT_EQ(testing::write_pattern(sockets.client.get(), kOverlapStream, kFirst), kFirst);
  auto first = read_bytes(sockets.backend.get(), kFirst, 5s);
  ASSERT_EQ(first.size(), kFirst);
  EXPECT_EQ(testing::first_mismatch(kOverlapStream, 0, first), -1);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (unsent_or_unacked(sockets.client.get()) != 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(unsent_or_unacked(sockets.client.get()), 0u);

  auto rewound = testing::rewind_sender(std::move(sockets.client), kOld);
  ASSERT_TRUE(rewound.ok()) << rewound.error().message;
  // One segment: kOld bytes the receiver has (sent as 'Z', which must never
  // arrive) followed by the next kNew bytes of the stream.
  std::vector<std::uint8_t> segment(kOld + kNew, 'Z');
  testing::fill_pattern(kOverlapStream, kFirst, std::span<std::uint8_t>(segment).subspan(kOld));
  ASSERT_EQ(::send(rewound->get(), segment.data(), segment.size(), 0),
            static_cast<ssize_t>(segment.size()));

  auto next = read_bytes(sockets.backend.get(), kOld + kNew, 1s);
  auto state = map.state(*inserted, Direction::client_to_backend);
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(next.size(), kNew) << "trimmed " << state->trimmed << " untrimmed " << state->untrimmed
                               << " redirected " << state->redirected;
  EXPECT_EQ(testing::first_mismatch(kOverlapStream, kFirst, next), -1);
  EXPECT_EQ(state->trimmed, kOld);
  EXPECT_EQ(state->untrimmed, 0u);
  EXPECT_EQ(state->redirected, kFirst + kNew);
  auto forwarded = map.forwarded_bytes(*inserted, Direction::client_to_backend);
  ASSERT_TRUE(forwarded.ok());
  EXPECT_EQ(*forwarded, kFirst + kNew);

  // The stream goes on in both directions after the overlap.
  ASSERT_EQ(testing::write_pattern(sockets.backend.get(), kOverlapStream + 1, 4096), 4096u);
  auto reply = read_bytes(rewound->get(), 4096, 5s);
  EXPECT_EQ(reply.size(), 4096u);
  EXPECT_EQ(testing::first_mismatch(kOverlapStream + 1, 0, reply), -1);
  map.remove(*inserted);
}

INSTANTIATE_TEST_SUITE_P(OldBytes, SockmapOverlap, ::testing::Values(1000u, 10000u, 30000u),
                         [](const auto& info) { return std::to_string(info.param); });

}  // namespace
}  // namespace sniproxy::bpf
