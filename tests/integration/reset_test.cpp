// Resets and failed connects end the other side promptly.
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class ResetTest : public ProxyTest {
 protected:
  std::uint16_t start_routing_to(const std::string& backend) {
    start_routing({{.match = "r.test", .backend = backend}});
    return listener_port();
  }
};

TEST_P(ResetTest, ClientResetClosesBackendPromptly) {
  RecordingBackend backend("up");
  const std::uint16_t port = start_routing_to(backend.address());
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  const auto hello = hello_for("r.test");
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), 2, got, Deadline::in(milliseconds(3000))), IoStatus::ok);
  ASSERT_EQ(backend.recording()
                .wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000)))
                .bytes.size(),
            hello.size());
  const auto t0 = Clock::now();
  close_with_reset(c);
  auto seen = backend.recording().wait_closed(0, Deadline::in(milliseconds(2000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(seen.closed) << "backend connection still open 2 s after the client's RST";
  EXPECT_TRUE(seen.close_status == IoStatus::eof || seen.close_status == IoStatus::reset);
  EXPECT_LT(took.count(), 2000);
}

TEST_P(ResetTest, BackendResetClosesClientPromptly) {
  const auto hello = hello_for("r.test");
  Backend backend(reset_handler(hello.size()));
  const std::uint16_t port = start_routing_to(backend.address());
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  ASSERT_TRUE(backend.wait_accepted(1, Deadline::in(milliseconds(3000))));
  const auto t0 = Clock::now();
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(2000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(r.status == IoStatus::reset || r.status == IoStatus::eof)
      << "client still open 2 s after the backend's RST: " << to_string(r.status);
  EXPECT_TRUE(r.bytes.empty());
  EXPECT_LT(took.count(), 2000);
}

TEST_P(ResetTest, RefusedBackendClosesClientQuickly) {
  const std::uint16_t port = start_routing_to(loopback(closed_port()).to_string());
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  const auto t0 = Clock::now();
  ASSERT_EQ(send_all(c.get(), hello_for("r.test"), Deadline::in(milliseconds(3000))), IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(r.status == IoStatus::reset || r.status == IoStatus::eof) << to_string(r.status);
  EXPECT_LT(took.count(), 1000);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "connect_failed");
}

TEST_P(ResetTest, BackendThatClosesAtOnceClosesClient) {
  Backend backend(close_handler());
  const std::uint16_t port = start_routing_to(backend.address());
  ASSERT_FALSE(HasFatalFailure());
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), hello_for("r.test"), Deadline::in(milliseconds(3000))), IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
  EXPECT_TRUE(r.status == IoStatus::reset || r.status == IoStatus::eof) << to_string(r.status);
  EXPECT_TRUE(r.bytes.empty());
}

SNIPROXY_INSTANTIATE_FOR_MODES(ResetTest);

}  // namespace
}  // namespace sniproxy::integration
