// Preconnect's spares (proxy/spare_connections.hpp) against real loopback
// sockets, on both reactor backends: spares are made and taken, and a
// backend's entry goes once clients stopped coming for it, whether it
// accepted connects or refused them all.
#include "proxy/spare_connections.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "reactor/backend.hpp"

namespace sniproxy::proxy {
namespace {

using namespace std::chrono_literals;

class SpareConnectionsTest : public ::testing::TestWithParam<reactor::BackendKind> {
 protected:
  void SetUp() override {
    reactor::ReactorOptions options;
    options.backend = GetParam();
    options.entries = 64;
    options.buffer_count = 8;
    options.buffer_size = 4096;
    auto created = reactor::create_reactor(options);
    ASSERT_TRUE(created) << created.error().message;
    reactor_ = std::move(created).value();
    spares_ = std::make_unique<SpareConnections>(*reactor_, timers_, metrics_);
  }

  void TearDown() override {
    if (!spares_) return;
    spares_->close_all();
    reactor_->run_once(10ms);  // the cancelled connects complete
  }

  // Runs timers and the reactor as a worker does until `done` or `limit`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = reactor::Clock::now() + limit;
    while (!done()) {
      const auto now = reactor::Clock::now();
      if (now > deadline) return false;
      timers_.fire_due(now);
      reactor_->run_once(std::min(timers_.wait_time(now, 20ms), 20ms));
    }
    return true;
  }

  // A loopback endpoint with a listener behind it, or (listening = false)
  // a port nothing listens on, so every connect is refused.
  Endpoint loopback_backend(bool listening) {
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length);
    if (listening)
      EXPECT_EQ(::listen(listener_.get(), 16), 0);
    else
      listener_.reset();  // the port is free again: connects are refused
    return *Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&address));
  }

  std::unique_ptr<reactor::Reactor> reactor_;
  reactor::TimerQueue timers_;
  observe::Metrics metrics_{1};
  std::unique_ptr<SpareConnections> spares_;
  UniqueFd listener_;
};

TEST_P(SpareConnectionsTest, SparesAreTakenWhileInUseAndForgottenOnceClientsStop) {
  const Endpoint backend = loopback_backend(true);
  const SpareConnections::Settings settings{.wanted = 2, .idle = 300ms, .connect_timeout = 2s};
  EXPECT_FALSE(spares_->take(backend, std::nullopt, settings));  // none ready yet
  ASSERT_TRUE(run_until([&] { return spares_->ready() == 2; }, 2000ms));
  EXPECT_TRUE(spares_->take(backend, std::nullopt, settings));
  EXPECT_EQ(observe::read(metrics_.preconnect_used), 1u);
  ASSERT_TRUE(run_until([&] { return spares_->tracked() == 0; }, 3000ms))
      << "ready=" << spares_->ready();
  EXPECT_GE(observe::read(metrics_.preconnect_expired), 2u);
}

TEST_P(SpareConnectionsTest, ABackendThatRefusesEveryConnectIsForgottenOnceClientsStop) {
  const Endpoint backend = loopback_backend(false);
  const SpareConnections::Settings settings{.wanted = 2, .idle = 300ms, .connect_timeout = 2s};
  EXPECT_FALSE(spares_->take(backend, std::nullopt, settings));
  ASSERT_TRUE(run_until([&] { return observe::read(metrics_.preconnect_failed) >= 2; }, 2000ms));
  EXPECT_EQ(spares_->ready(), 0u);
  // Nothing ready and nothing connecting: before this was remembered for
  // the process's lifetime.
  ASSERT_TRUE(run_until([&] { return spares_->tracked() == 0; }, 3000ms));
}

INSTANTIATE_TEST_SUITE_P(Backends, SpareConnectionsTest,
                         ::testing::Values(reactor::BackendKind::io_uring,
                                           reactor::BackendKind::epoll),
                         [](const auto& info) {
                           return std::string(reactor::to_string(info.param));
                         });

}  // namespace
}  // namespace sniproxy::proxy
