// Deadlines: a client that never finishes its hello, and an idle connection.
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class TimeoutTest : public ProxyTest {
 protected:
  // Sends `partial` (maybe nothing), then waits for the proxy to close; returns
  // how long that took, and checks the access log says hello_timeout.
  void expect_hello_timeout(const std::vector<std::uint8_t>& partial) {
    Backend backend(close_handler());
    ConfigSpec spec = base_config();
    spec.hello_timeout = "500ms";
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("slow.test", backend)}));
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    const auto t0 = Clock::now();
    const std::uint16_t client_port = local_endpoint(c.get()).port;
    if (!partial.empty()) {
      ASSERT_EQ(send_all(c.get(), partial, Deadline::in(milliseconds(1000))), IoStatus::ok);
    }
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset)
        << "not closed within 3 s: " << to_string(r.status);
    EXPECT_GE(took, 0.3);
    EXPECT_LE(took, 2.0);
    EXPECT_EQ(backend.accepted(), 0);
    auto entry = access_entry(client_port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["outcome"], "hello_timeout");
  }
};

TEST_P(TimeoutTest, SilentClientIsClosedAfterHelloTimeout) {
  expect_hello_timeout({});
}

TEST_P(TimeoutTest, HalfAHelloThenSilenceIsClosedAfterHelloTimeout) {
  auto hello = hello_for("slow.test");
  hello.resize(hello.size() / 2);
  expect_hello_timeout(hello);
}

TEST_P(TimeoutTest, IdleConnectionIsClosedAfterIdleTimeout) {
  RecordingBackend backend;
  ConfigSpec spec = base_config();
  spec.idle_timeout = "1s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("idle.test", backend)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  const auto hello = hello_for("idle.test");
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(1000))), IoStatus::ok);
  ASSERT_EQ(backend.recording()
                .wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000)))
                .bytes.size(),
            hello.size());
  const auto t0 = Clock::now();
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  EXPECT_GE(took, 0.6);
  EXPECT_LE(took, 3.0);
  EXPECT_TRUE(backend.recording().wait_closed(0, Deadline::in(milliseconds(2000))).closed);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "idle_timeout");
}

// Bytes moving keep a connection open however long it lasts, in every mode:
// in sockmap mode the kernel moves them and the proxy must still notice.
TEST_P(TimeoutTest, TrafficKeepsAConnectionOpenPastTheIdleTimeout) {
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.idle_timeout = "1s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("busy.test", backend)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const auto hello = hello_for("busy.test");
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(1000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), hello.size(), got, Deadline::in(milliseconds(3000))), IoStatus::ok);
  // 3 s of a small exchange every 250 ms: three idle timeouts long.
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(milliseconds(250));
    ASSERT_EQ(send_all(c.get(), "ping", Deadline::in(milliseconds(1000))), IoStatus::ok) << i;
    got.clear();
    ASSERT_EQ(read_exact(c.get(), 4, got, Deadline::in(milliseconds(1000))), IoStatus::ok) << i;
    EXPECT_EQ(to_text(got), "ping");
  }
}

SNIPROXY_INSTANTIATE_FOR_MODES(TimeoutTest);

}  // namespace
}  // namespace sniproxy::integration
