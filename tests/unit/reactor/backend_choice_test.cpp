// Which backend a worker runs on: io_uring where it works, epoll where it is
// blocked (auto), and a clear error for an explicit io_uring that cannot run.
#include <gtest/gtest.h>

#include "reactor/backend.hpp"

namespace sniproxy::reactor {
namespace {

IoUringFeatures working() {
  IoUringFeatures f;
  f.available = true;
  f.accept = true;
  f.multishot_accept = true;
  f.provided_buffer_ring = true;
  return f;
}

IoUringFeatures blocked() {
  IoUringFeatures f;
  f.error = "io_uring_setup failed: Operation not permitted";
  return f;
}

TEST(BackendChoice, AutoTakesIoUringWhereItWorks) {
  auto choice = choose_backend(std::nullopt, working());
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->kind, BackendKind::io_uring);
  EXPECT_EQ(choice->fallback_reason, "");
}

TEST(BackendChoice, AutoFallsBackToEpollAndSaysWhy) {
  auto choice = choose_backend(std::nullopt, blocked());
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->kind, BackendKind::epoll);
  EXPECT_NE(choice->fallback_reason.find("Operation not permitted"), std::string::npos);

  IoUringFeatures old_kernel = working();
  old_kernel.multishot_accept = false;
  choice = choose_backend(std::nullopt, old_kernel);
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->kind, BackendKind::epoll);
  EXPECT_NE(choice->fallback_reason.find("multishot accept"), std::string::npos);
}

TEST(BackendChoice, EpollIsTakenWhenConfigured) {
  auto choice = choose_backend(BackendKind::epoll, working());
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->kind, BackendKind::epoll);
}

TEST(BackendChoice, IoUringThatCannotRunIsAnErrorNamingCauseAndFix) {
  auto choice = choose_backend(BackendKind::io_uring, blocked());
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message.find("Operation not permitted"), std::string::npos);
  EXPECT_NE(choice.error().message.find("seccomp"), std::string::npos);
  EXPECT_NE(choice.error().message.find("backend = \"auto\""), std::string::npos);
  EXPECT_TRUE(choose_backend(BackendKind::io_uring, working()));
}

}  // namespace
}  // namespace sniproxy::reactor
