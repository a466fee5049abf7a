// The userspace half of sockmap's memory bound is pure arithmetic; these
// pin down its edges without root.
#include "bpf/sockmap_flow.hpp"

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

TEST(SockmapFlow, ResumesOnlyWhenUserspaceHoldsNothingAndThePeerDrained) {
  ForwardState state{.redirected = kCap, .passed = 4096, .unpaired = 0, .over = true};
  EXPECT_FALSE(may_resume(state, {.limit = kCap, .consumed = 0}, 0, kCap));
  EXPECT_TRUE(may_resume(state, {.limit = kCap, .consumed = 4096}, 0, kCap));
  EXPECT_TRUE(may_resume(state, {.limit = kCap, .consumed = 4096}, kCap / 2 - 1, kCap));
  EXPECT_FALSE(may_resume(state, {.limit = kCap, .consumed = 4096}, kCap / 2, kCap));
}

TEST(SockmapFlow, ResumeLimitLeavesRoomForWhatTheKernelStillHolds) {
  EXPECT_EQ(resume_limit(kCap, kCap, 0, 0), 2 * kCap);
  EXPECT_EQ(resume_limit(kCap, kCap, 1000, 24), 2 * kCap - 1024);
  // A full queue allows nothing more, and the limit never drops below what
  // was already redirected.
  EXPECT_EQ(resume_limit(kCap, kCap, kCap, 0), kCap);
  EXPECT_EQ(resume_limit(kCap, kCap, kCap, 5000), kCap);
}

}  // namespace
}  // namespace sniproxy::bpf
