// SIGTERM: stop accepting, let active connections finish within [timeouts]
// shutdown, then exit 0; connections still open at the deadline are closed.
#include <signal.h>

#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class ShutdownTest : public ProxyTest {};

TEST_P(ShutdownTest, ActiveTransferDrainsWhileNewConnectsAreRefused) {
  const auto hello = hello_for("drain.test");
  constexpr std::size_t kChunk = 256 * 1024;
  constexpr int kChunks = 24;  // 6 MiB paced over ~1.2 s
  Backend backend([&](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(15'000));
    std::vector<std::uint8_t> got;
    if (read_exact(c.fd.get(), hello.size(), got, d) != IoStatus::ok) return;
    PatternStream stream(11);
    std::vector<std::uint8_t> chunk(kChunk);
    for (int i = 0; i < kChunks; ++i) {
      stream.fill(chunk);
      if (send_all(c.fd.get(), chunk, d) != IoStatus::ok) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    c.fd.reset();
  });
  ConfigSpec spec = base_config();
  spec.shutdown_timeout = "10s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("drain.test", backend)}));
  const std::uint16_t port = listener_port();

  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> first;
  ASSERT_EQ(read_exact(c.get(), kChunk, first, Deadline::in(milliseconds(3000))), IoStatus::ok);

  proxy_->signal(SIGTERM);
  // New connects are refused once the listeners close (allow a moment).
  bool refused = false;
  int last_error = 0;
  const Deadline refuse_by = Deadline::in(milliseconds(1000));
  while (!refused && !refuse_by.expired()) {
    auto probe = connect_tcp(loopback(port), Deadline::in(milliseconds(200)));
    last_error = probe.error;
    refused = !probe.fd && probe.error == ECONNREFUSED;
    if (!refused) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(refused) << "a connect 1 s after SIGTERM was not refused (errno " << last_error
                       << ")";
  EXPECT_EQ(backend.accepted(), 1);

  auto rest = read_until_closed(c.get(), Deadline::in(milliseconds(10'000)));
  EXPECT_EQ(rest.status, IoStatus::eof);
  PatternChecker check(11);
  check.consume(first);
  check.consume(rest.bytes);
  EXPECT_EQ(check.bytes(), kChunk * kChunks);
  EXPECT_FALSE(check.first_mismatch());
  c.reset();

  auto code = proxy_->wait_exit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "still running 5 s after its last connection ended";
  EXPECT_EQ(*code, 0);
}

TEST_P(ShutdownTest, ConnectionsStillOpenAtTheDeadlineAreClosed) {
  RecordingBackend backend("hi");
  ConfigSpec spec = base_config();
  spec.shutdown_timeout = "1s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("stuck.test", backend)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("stuck.test"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), 2, got, Deadline::in(milliseconds(3000))), IoStatus::ok);

  const auto t0 = Clock::now();
  proxy_->signal(SIGTERM);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  auto code = proxy_->wait_exit(milliseconds(5000));
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(code.has_value()) << "still running 5 s after SIGTERM with a 1 s drain";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(took, 0.7);
  EXPECT_LE(took, 4.0);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "shutdown");
}

TEST_P(ShutdownTest, IdleProxyExitsAtOnceOnSigint) {
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "a.test", .backend = "127.0.0.1:1"}}));
  proxy_->signal(SIGINT);
  auto code = proxy_->wait_exit(milliseconds(3000));
  ASSERT_TRUE(code.has_value()) << "still running 3 s after SIGINT with nothing to drain";
  EXPECT_EQ(*code, 0);
}

SNIPROXY_INSTANTIATE_FOR_MODES(ShutdownTest);

}  // namespace
}  // namespace sniproxy::integration
