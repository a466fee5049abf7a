// Slow start: a returning member's weight ramps up.
#include <gtest/gtest.h>

#include "upstream/slow_start.hpp"

namespace sniproxy::upstream {
namespace {

using std::chrono::seconds;

const TimePoint kUp = TimePoint(seconds(1000));
const Millis kRamp = Millis(30'000);

TEST(SlowStart, RampsLinearlyFromATenth) {
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp), 20u);
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp + seconds(1)), 20u);  // the floor
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp + seconds(15)), 100u);
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp + seconds(24)), 160u);
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp + seconds(30)), 200u);
  EXPECT_EQ(effective_weight(2, kRamp, kUp, kUp + seconds(3000)), 200u);
}

TEST(SlowStart, FullWeightWithoutARamp) {
  EXPECT_EQ(effective_weight(3, Millis(0), kUp, kUp), 3 * kWeightScale);
  EXPECT_EQ(effective_weight(3, kRamp, std::nullopt, kUp), 3 * kWeightScale);
}

TEST(SlowStart, NeverZero) {
  EXPECT_GE(effective_weight(1, kRamp, kUp, kUp), 1u);
  // A clock read before up_since (another thread's) is the start of the ramp.
  EXPECT_EQ(effective_weight(1, kRamp, kUp, kUp - seconds(5)), 10u);
}

}  // namespace
}  // namespace sniproxy::upstream
