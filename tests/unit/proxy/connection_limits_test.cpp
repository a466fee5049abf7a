#include "proxy/connection_limits.hpp"

#include <gtest/gtest.h>

namespace sniproxy::proxy {
namespace {

TEST(ConnectionLimits, TotalLimit) {
  ConnectionLimits l;
  const auto a = IpAddress::v4(127, 0, 0, 1);
  EXPECT_EQ(l.admit(a, 2, 0), ConnectionLimits::Admit::yes);
  EXPECT_EQ(l.admit(a, 2, 0), ConnectionLimits::Admit::yes);
  EXPECT_EQ(l.admit(a, 2, 0), ConnectionLimits::Admit::over_total);
  EXPECT_EQ(l.active(), 2u);
  l.release(a);
  EXPECT_EQ(l.admit(a, 2, 0), ConnectionLimits::Admit::yes);
}

TEST(ConnectionLimits, PerSourceLimitIsPerAddress) {
  ConnectionLimits l;
  const auto a = IpAddress::v4(127, 0, 0, 1);
  const auto b = IpAddress::v4(127, 0, 0, 2);
  EXPECT_EQ(l.admit(a, 100, 1), ConnectionLimits::Admit::yes);
  EXPECT_EQ(l.admit(a, 100, 1), ConnectionLimits::Admit::over_source);
  EXPECT_EQ(l.admit(b, 100, 1), ConnectionLimits::Admit::yes);
  EXPECT_EQ(l.active(), 2u);
  l.release(a);
  EXPECT_EQ(l.admit(a, 100, 1), ConnectionLimits::Admit::yes);
}

}  // namespace
}  // namespace sniproxy::proxy
