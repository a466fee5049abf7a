// Sharing a listener's passed sockets out over the worker threads.
#include "proxy/passed_share.hpp"

#include <sys/eventfd.h>

#include <gtest/gtest.h>

namespace sniproxy::proxy {
namespace {

std::vector<UniqueFd> sockets(std::size_t count) {
  std::vector<UniqueFd> fds;
  for (std::size_t i = 0; i < count; ++i) fds.emplace_back(::eventfd(0, EFD_CLOEXEC));
  return fds;
}

TEST(PassedShare, OneSocketPerWorker) {
  const auto fds = sockets(4);
  for (unsigned w = 0; w < 4; ++w) EXPECT_EQ(passed_share(fds, w, 4), std::vector{fds[w].get()});
}

TEST(PassedShare, OneSocketSharedByEveryWorker) {  // systemd's
  const auto fds = sockets(1);
  for (unsigned w = 0; w < 3; ++w) EXPECT_EQ(passed_share(fds, w, 3), std::vector{fds[0].get()});
}

// A generation with fewer workers than sockets the master bound: every
// socket is still accepted from, so nothing queued in one is left behind.
TEST(PassedShare, MoreSocketsThanWorkersAreAllServed) {
  const auto fds = sockets(5);
  EXPECT_EQ(passed_share(fds, 0, 2), (std::vector{fds[0].get(), fds[2].get(), fds[4].get()}));
  EXPECT_EQ(passed_share(fds, 1, 2), (std::vector{fds[1].get(), fds[3].get()}));
}

TEST(PassedShare, FewerSocketsThanWorkersAreShared) {
  const auto fds = sockets(2);
  EXPECT_EQ(passed_share(fds, 0, 3), std::vector{fds[0].get()});
  EXPECT_EQ(passed_share(fds, 1, 3), std::vector{fds[1].get()});
  EXPECT_EQ(passed_share(fds, 2, 3), std::vector{fds[0].get()});
}

TEST(PassedShare, NothingPassed) {
  EXPECT_TRUE(passed_share({}, 0, 2).empty());
}

}  // namespace
}  // namespace sniproxy::proxy
