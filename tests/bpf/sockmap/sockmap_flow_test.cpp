// The userspace half of sockmap's memory bound is pure arithmetic; these
// pin down its edges without root.
#include "bpf/sockmap/sockmap_flow.hpp"

#include <gtest/gtest.h>

namespace sniproxy::bpf {
namespace {

constexpr std::uint64_t kCap = 1 << 20;

TEST(SockmapFlow, UnflushedIsWhatTheDirectionTookMinusWhatThePeerWrote) {
  EXPECT_EQ(unflushed_bytes(1000, 0, 1000), 0u);
  EXPECT_EQ(unflushed_bytes(1000, 500, 1200), 300u);
  // peer_written is read after the counters, so it may run ahead: never
  // below zero.
  EXPECT_EQ(unflushed_bytes(1000, 0, 1500), 0u);
}

TEST(SockmapFlow, AllForwardedOnlyWhenEveryReceivedByteIsInThePeersStream) {
  ForwardState state;
  state.redirected = 900;
  state.passed = 100;
  const ForwardControl control{kCap, 100};
  // 1000 received and judged, the FIN's sequence number on top.
  EXPECT_TRUE(all_forwarded(state, control, 1000, 1001, true));
  EXPECT_TRUE(all_forwarded(state, control, 1000, 1000, false));
  // A FIN that arrived after the poll: counted in received, not in fin.
  EXPECT_FALSE(all_forwarded(state, control, 1000, 1001, false));
  // Bytes received the verdict has not judged yet.
  EXPECT_FALSE(all_forwarded(state, control, 1000, 1200, true));
  // Redirected bytes still queued for the peer.
  EXPECT_FALSE(all_forwarded(state, control, 999, 1001, true));
  // Passed bytes userspace has not sent yet.
  EXPECT_FALSE(all_forwarded(state, ForwardControl{kCap, 40}, 940, 1001, true));
}

TEST(SockmapFlow, LimitLeavesRoomForCapBeyondWhatThePsockQueueHolds) {
  EXPECT_EQ(resume_limit(kCap, kCap, 0), 2 * kCap);
  EXPECT_EQ(resume_limit(kCap, kCap, 1024), 2 * kCap - 1024);
  // A full queue allows nothing more, and the limit never drops below what
  // was already redirected.
  EXPECT_EQ(resume_limit(kCap, kCap, kCap), kCap);
  EXPECT_EQ(resume_limit(kCap, kCap, kCap + 5000), kCap);
}

TEST(SockmapFlow, LooksBeforeHalfTheRoomIsUsedAndBacksOffWhileIdle) {
  using std::chrono::microseconds;
  // 1 MiB room, 1 MiB moved in the last 10 ms: half the room lasts 5 ms.
  EXPECT_EQ(next_look(kCap, kCap, microseconds(10'000), microseconds(1'000)), microseconds(5'000));
  // Fast flows are looked at every millisecond, never more often.
  EXPECT_EQ(next_look(kCap, 100 * kCap, microseconds(10'000), microseconds(1'000)),
            microseconds(1'000));
  // Slow flows at most every second.
  EXPECT_EQ(next_look(kCap, 1, microseconds(10'000), microseconds(1'000)), microseconds(1'000'000));
  // Idle: 10 ms, then doubling to 1 s.
  EXPECT_EQ(next_look(kCap, 0, microseconds(5'000), microseconds(1'000)), microseconds(10'000));
  EXPECT_EQ(next_look(kCap, 0, microseconds(5'000), microseconds(40'000)), microseconds(80'000));
  EXPECT_EQ(next_look(kCap, 0, microseconds(5'000), microseconds(900'000)),
            microseconds(1'000'000));
  // No room left: look again soon.
  EXPECT_EQ(next_look(0, kCap, microseconds(10'000), microseconds(1'000)), microseconds(1'000));
}

}  // namespace
}  // namespace sniproxy::bpf
