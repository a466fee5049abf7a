#pragma once
// What the reactor tests share: a reactor of the backend under test (the
// parameter) and a Completion that records its events.
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "reactor/backend.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::reactor::test {

// Records every event it gets.
struct Recorder final : Completion {
  std::vector<Event> events;
  void on_complete(const Event& event) override { events.push_back(event); }
};

class ReactorFixture : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    ReactorOptions options;
    options.backend = GetParam();
    options.entries = 64;
    options.buffer_count = 8;
    options.buffer_size = 4096;
    auto created = create_reactor(options);
    ASSERT_TRUE(created) << created.error().message;
    reactor_ = std::move(created).value();
  }

  // Runs the loop until `done` or two seconds pass.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      reactor_->run_once(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::unique_ptr<Reactor> reactor_;
};

}  // namespace sniproxy::reactor::test
