// Resets in the middle of a bulk transfer, from either end, in every mode:
// the other side learns promptly, the proxy stays up, and the next
// connection is forwarded byte for byte.
#include <cstdio>
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/planned_duplex.hpp"
#include "support/proxy_fixture.hpp"
#include "support/proxy_health.hpp"

namespace sniproxy::integration {
namespace {

constexpr milliseconds kPrompt{2000};

// Reads the hello, then pushes a pattern stream until the client has had
// `before_reset` bytes' chance, then resets while still sending (and while
// the client still sends to it).
BackendHandler dies_mid_stream(std::size_t hello_size, std::uint64_t before_reset,
                               std::shared_ptr<std::atomic<bool>> reset_done) {
  return [=](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(20'000));
    std::vector<std::uint8_t> hello;
    if (read_exact(c.fd.get(), hello_size, hello, d) != IoStatus::ok) return;
    const auto bytes = pattern_bytes(5, before_reset);
    send_all(c.fd.get(), bytes, d);
    close_with_reset(c.fd);
    *reset_done = true;
  };
}

class AbuseResetTest : public ProxyTest {
 protected:
  void SetUp() override {
    tally_ = std::make_shared<ExchangeTally>();
    exact_ = std::make_unique<Backend>(planned_exchange_handler(tally_));
  }
  // A fresh connection moving 4 MiB each way, checked at both ends.
  void expect_next_connection_exact(std::uint16_t port, std::uint64_t seed) {
    auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    const ExchangePlan plan{seed, 4 * kMiB, seed + 1, 4 * kMiB};
    ASSERT_TRUE(
        send_plan(c.fd.get(), hello_for("exact.test"), plan, Deadline::in(milliseconds(3000))));
    const auto before = tally_->complete.load();
    const DuplexResult r = run_client_side(c.fd.get(), plan, Deadline::in(milliseconds(20'000)));
    EXPECT_TRUE(r.complete(DuplexPlan{seed, 4 * kMiB, seed + 1, 4 * kMiB}))
        << "status " << to_string(r.status) << " sent " << r.sent << " received " << r.received;
    const Deadline d = Deadline::in(milliseconds(5000));
    while (tally_->complete.load() == before && !d.expired())
      std::this_thread::sleep_for(milliseconds(5));
    EXPECT_EQ(tally_->complete.load(), before + 1) << "the backend did not get it exact";
    EXPECT_EQ(tally_->mismatched.load(), 0u);
  }
  ConfigSpec spec_with(const std::string& match, const std::string& backend) {
    ConfigSpec spec = base_config();
    // A small buffer pool, so that the memory bound below is tight.
    spec.forwarding_extra = "buffers_per_worker = 64\n";
    spec.table("default").push_back({.match = match, .backend = backend});
    spec.table("default").push_back({.match = "exact.test", .backend = exact_->address()});
    return spec;
  }

  std::shared_ptr<ExchangeTally> tally_;
  std::unique_ptr<Backend> exact_;
};

TEST_P(AbuseResetTest, ClientResetDuringBulkTransferEndsBackendPromptly) {
  ConfigSpec spec = spec_with("bulk.test", exact_->address());
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::uint16_t port = spec.listeners[0].port;
  const std::uint64_t rss_before = resident_kib(proxy_->pid());
  for (int round = 0; round < 3; ++round) {
    auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    // The backend plans 64 MiB each way; the client sends 8 MiB of its part,
    // reading what comes meanwhile, then resets.
    const ExchangePlan plan{100u + round, 64 * kMiB, 200u + round, 64 * kMiB};
    ASSERT_TRUE(
        send_plan(c.fd.get(), hello_for("bulk.test"), plan, Deadline::in(milliseconds(3000))));
    const auto incomplete = tally_->incomplete.load();
    const DuplexResult partial = run_duplex(c.fd.get(),
                                            DuplexPlan{.send_seed = plan.up_seed,
                                                       .send_bytes = 8 * kMiB,
                                                       .receive_seed = plan.down_seed,
                                                       .receive_bytes = 0,
                                                       .half_close_when_sent = false},
                                            Deadline::in(milliseconds(10'000)));
    ASSERT_EQ(partial.sent, 8 * kMiB) << to_string(partial.status);
    EXPECT_FALSE(partial.first_mismatch);
    const auto t0 = Clock::now();
    close_with_reset(c.fd);
    const Deadline d = Deadline::in(kPrompt);
    while (tally_->incomplete.load() == incomplete && !d.expired())
      std::this_thread::sleep_for(milliseconds(2));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    EXPECT_GT(tally_->incomplete.load(), incomplete)
        << "the backend still had its connection " << kPrompt.count() << " ms after the reset";
    std::fprintf(stderr, "client reset (%s): backend saw the end after %.1f ms\n",
                 GetParam().c_str(), ms);
    EXPECT_EQ(tally_->mismatched.load(), 0u);
    ASSERT_NO_FATAL_FAILURE(expect_next_connection_exact(port, 1000u + round));
  }
  expect_alive_and_quiet(*proxy_);
  const std::uint64_t rss_after = resident_kib(proxy_->pid());
  // Bounded by the buffer pool the transfers may touch (2 workers x 64 x
  // 64 KiB = 8 MiB), plus 8 MiB for connection state and the allocator.
  EXPECT_LT(rss_after, rss_before + 16 * 1024 + sanitizer_slack_kib()) << "KiB";
  expect_clean_exit_on_sigterm(*proxy_);
}

TEST_P(AbuseResetTest, BackendResetMidStreamEndsClientPromptly) {
  const auto hello = hello_for("dies.test");
  auto reset_done = std::make_shared<std::atomic<bool>>(false);
  Backend dying(dies_mid_stream(hello.size(), 2 * kMiB, reset_done));
  ConfigSpec spec = spec_with("dies.test", dying.address());
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::uint16_t port = spec.listeners[0].port;
  for (int round = 0; round < 3; ++round) {
    *reset_done = false;
    auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
    ASSERT_TRUE(c.fd);
    ASSERT_EQ(send_all(c.fd.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    // The client pushes its own stream while reading the backend's, as a
    // real upload would; the backend resets after 2 MiB of its stream.
    const auto t0 = Clock::now();
    const DuplexResult r = run_duplex(c.fd.get(),
                                      DuplexPlan{.send_seed = 9,
                                                 .send_bytes = 256 * kMiB,
                                                 .receive_seed = 5,
                                                 .receive_bytes = 256 * kMiB},
                                      Deadline::in(milliseconds(20'000)));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    EXPECT_LT(ms, static_cast<double>(kPrompt.count())) << "the client learnt of the reset late";
    // The backend thread sets the flag just after its close, which the
    // client may well have seen first.
    const Deadline flagged = Deadline::in(milliseconds(1000));
    while (!*reset_done && !flagged.expired()) std::this_thread::sleep_for(milliseconds(1));
    EXPECT_TRUE(*reset_done) << "the client's connection ended, but not by the backend's reset";
    EXPECT_TRUE(r.status == IoStatus::reset || r.status == IoStatus::eof)
        << "client not ended by the backend's reset: " << to_string(r.status);
    EXPECT_FALSE(r.first_mismatch) << "bytes before the reset differ at " << *r.first_mismatch;
    EXPECT_LE(r.received, 2 * kMiB);
    EXPECT_LT(r.sent, 256 * kMiB);
    std::fprintf(stderr, "backend reset (%s): client got %llu of 2 MiB, ended (%s) after %.1f ms\n",
                 GetParam().c_str(), static_cast<unsigned long long>(r.received),
                 std::string(to_string(r.status)).c_str(), ms);
    ASSERT_NO_FATAL_FAILURE(expect_next_connection_exact(port, 2000u + round));
  }
  expect_alive_and_quiet(*proxy_);
  expect_clean_exit_on_sigterm(*proxy_);
}

SNIPROXY_INSTANTIATE_FOR_MODES(AbuseResetTest);

}  // namespace
}  // namespace sniproxy::integration
