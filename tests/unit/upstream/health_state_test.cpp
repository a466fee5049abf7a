// The health state machine: fall, rise, passive failures, check = "none".
#include <gtest/gtest.h>

#include "fixtures.hpp"
#include "upstream/health_state.hpp"

namespace sniproxy::upstream {
namespace {

using std::chrono::seconds;

using testing::kT0;

HealthSettings active(std::uint32_t rise = 2, std::uint32_t fall = 3) {
  return HealthSettings{true, rise, fall, Millis(2000)};
}

HealthSettings passive_only(std::uint32_t fall = 3) {
  return HealthSettings{false, 2, fall, Millis(2000)};
}

TEST(HealthState, StartsUpAndEligible) {
  HealthState h(active());
  EXPECT_TRUE(h.up());
  EXPECT_TRUE(h.eligible(kT0));
  EXPECT_FALSE(h.up_since().has_value());
  EXPECT_FALSE(h.retry_at().has_value());
}

TEST(HealthState, AReloadsNewMemberWaitsForOnePassedCheck) {
  HealthState fresh = HealthState::awaiting_first_check(active(3));
  EXPECT_FALSE(fresh.up());
  EXPECT_FALSE(fresh.eligible(kT0));
  EXPECT_FALSE(fresh.on_connect_result(true, kT0));  // connects say nothing here
  auto change = fresh.on_check(true, kT0);
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->up);
  EXPECT_TRUE(fresh.up());

  HealthState failing = HealthState::awaiting_first_check(active(2));
  EXPECT_FALSE(failing.on_check(false, kT0));
  EXPECT_FALSE(failing.on_check(true, kT0 + seconds(2)));  // now `rise` (2) are needed
  EXPECT_TRUE(failing.on_check(true, kT0 + seconds(4)));

  // Without checks nothing would ever let it in: it starts up.
  EXPECT_TRUE(HealthState::awaiting_first_check(passive_only()).up());
}

TEST(HealthState, FallFailedChecksInARowTakeItDown) {
  HealthState h(active(2, 3));
  EXPECT_FALSE(h.on_check(false, kT0));
  EXPECT_FALSE(h.on_check(false, kT0 + seconds(2)));
  auto t = h.on_check(false, kT0 + seconds(4));
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->up);
  EXPECT_EQ(t->cause, HealthCause::checks_failed);
  EXPECT_EQ(t->in_a_row, 3u);
  EXPECT_FALSE(h.up());
  // Down with checks: no traffic, however long, until checks pass.
  EXPECT_FALSE(h.eligible(kT0 + seconds(3600)));
  // The transition is reported once.
  EXPECT_FALSE(h.on_check(false, kT0 + seconds(6)));
}

TEST(HealthState, APassedCheckResetsTheFailures) {
  HealthState h(active(2, 3));
  h.on_check(false, kT0);
  h.on_check(false, kT0);
  h.on_check(true, kT0);
  EXPECT_FALSE(h.on_check(false, kT0));
  EXPECT_FALSE(h.on_check(false, kT0));
  EXPECT_TRUE(h.up());
  EXPECT_TRUE(h.on_check(false, kT0).has_value());
}

TEST(HealthState, RisePassedChecksBringItBack) {
  HealthState h(active(2, 1));
  ASSERT_TRUE(h.on_check(false, kT0));
  EXPECT_FALSE(h.on_check(true, kT0 + seconds(2)));
  EXPECT_FALSE(h.on_check(false, kT0 + seconds(4)));  // starts the count again
  EXPECT_FALSE(h.on_check(true, kT0 + seconds(6)));
  EXPECT_FALSE(h.up());
  auto t = h.on_check(true, kT0 + seconds(8));
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->up);
  EXPECT_EQ(t->cause, HealthCause::checks_passed);
  EXPECT_EQ(t->in_a_row, 2u);
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.up_since(), kT0 + seconds(8));
}

TEST(HealthState, PassiveFallFailedConnectsTakeItDown) {
  HealthState h(active(2, 3));
  EXPECT_FALSE(h.on_connect_result(false, kT0));
  EXPECT_FALSE(h.on_connect_result(false, kT0));
  EXPECT_FALSE(h.on_connect_result(true, kT0));  // a success resets the count
  EXPECT_FALSE(h.on_connect_result(false, kT0));
  EXPECT_FALSE(h.on_connect_result(false, kT0));
  auto t = h.on_connect_result(false, kT0);
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->up);
  EXPECT_EQ(t->cause, HealthCause::connects_failed);
  EXPECT_EQ(t->in_a_row, 3u);
}

TEST(HealthState, ChecksAndConnectsCountApart) {
  HealthState h(active(2, 2));
  EXPECT_FALSE(h.on_check(false, kT0));
  EXPECT_FALSE(h.on_connect_result(false, kT0));
  EXPECT_TRUE(h.up());
}

TEST(HealthState, WithChecksOnlyChecksBringItBack) {
  HealthState h(active(2, 1));
  ASSERT_TRUE(h.on_connect_result(false, kT0));
  EXPECT_FALSE(h.on_connect_result(true, kT0 + seconds(1)));
  EXPECT_FALSE(h.up());
  h.on_check(true, kT0 + seconds(2));
  EXPECT_TRUE(h.on_check(true, kT0 + seconds(4)).has_value());
  EXPECT_TRUE(h.up());
}

TEST(HealthState, CheckNoneTriesAgainAfterInterval) {
  HealthState h(passive_only(2));
  h.on_connect_result(false, kT0);
  ASSERT_TRUE(h.on_connect_result(false, kT0 + seconds(1)));
  EXPECT_FALSE(h.up());
  EXPECT_FALSE(h.eligible(kT0 + seconds(2)));
  EXPECT_EQ(h.retry_at(), kT0 + seconds(3));
  EXPECT_TRUE(h.eligible(kT0 + seconds(3)));
  // The retry fails: another interval from then.
  EXPECT_FALSE(h.on_connect_result(false, kT0 + seconds(3)));
  EXPECT_FALSE(h.eligible(kT0 + seconds(4)));
  EXPECT_TRUE(h.eligible(kT0 + seconds(5)));
  // It connects: up, by one success.
  auto t = h.on_connect_result(true, kT0 + seconds(5));
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->up);
  EXPECT_EQ(t->cause, HealthCause::connected);
  EXPECT_EQ(h.up_since(), kT0 + seconds(5));
  EXPECT_FALSE(h.retry_at().has_value());
}

TEST(HealthState, NewSettingsKeepTheState) {
  HealthState h(active(5, 1));
  ASSERT_TRUE(h.on_check(false, kT0));
  h.on_check(true, kT0);
  h.set_settings(active(2, 1));
  EXPECT_FALSE(h.up());
  EXPECT_TRUE(h.on_check(true, kT0).has_value());
}

TEST(HealthState, SettingsFromConfig) {
  config::HealthCheck c;
  c.check = config::HealthCheckKind::none;
  c.rise = 4;
  c.fall = 5;
  c.interval = Millis(7000);
  const HealthSettings s = HealthSettings::from(c);
  EXPECT_FALSE(s.active_checks);
  EXPECT_EQ(s.rise, 4u);
  EXPECT_EQ(s.fall, 5u);
  EXPECT_EQ(s.interval, Millis(7000));
  c.check = config::HealthCheckKind::tls_hello;
  EXPECT_TRUE(HealthSettings::from(c).active_checks);
  EXPECT_EQ(to_string(HealthCause::connects_failed), "connects failed");
}

}  // namespace
}  // namespace sniproxy::upstream
