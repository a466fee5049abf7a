// Forwarding modes against the kernel's io_uring: splice refused where
// IORING_OP_SPLICE is missing (naming the listener and the fix), auto kept
// to copy there.
#include <gtest/gtest.h>

#include "app/forwarding_check.hpp"

namespace sniproxy::app {
namespace {

config::Config with_listener(config::ForwardingMode mode) {
  config::Config c;
  config::Listener l;
  l.name = "tls";
  l.mode = mode;
  c.listeners.push_back(l);
  return c;
}

TEST(ForwardingCheckTest, SpliceNeedsTheOpcode) {
  bpf::IoUringFeatures without;
  without.available = true;
  auto r = check_forwarding(with_listener(config::ForwardingMode::splice), without, "5.4.0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "listener tls: mode = \"splice\" needs io_uring IORING_OP_SPLICE (Linux 5.7+), which "
            "this kernel (5.4.0) does not offer; use mode = \"copy\" or \"auto\"");
}

TEST(ForwardingCheckTest, AutoStaysCopyWithoutTheOpcodeAndSplicesWithIt) {
  bpf::IoUringFeatures without;
  auto r = check_forwarding(with_listener(config::ForwardingMode::automatic), without, "5.4.0");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  bpf::IoUringFeatures with;
  with.splice = true;
  r = check_forwarding(with_listener(config::ForwardingMode::automatic), with, "6.18.0");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
}

}  // namespace
}  // namespace sniproxy::app
