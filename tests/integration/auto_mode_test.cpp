// mode = "auto": short exchanges and small messages back and forth stay
// copied, long streams move to splice (proxy/forwarding_choice.hpp), and the
// switch loses or reorders nothing.
#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AutoModeTest : public ProxyTest {
 protected:
  // A 4 MiB answer moves to splice midway and arrives intact, whether or
  // not auto may also use the sockmap (which is for small messages).
  void stream_moves_to_splice(bool auto_sockmap) {
    constexpr std::size_t kReply = 4u << 20;  // well past the switch point
    Backend backend([](BackendConnection& c) {
      const Deadline d = c.within(milliseconds(10'000));
      std::vector<std::uint8_t> hello;
      if (read_exact(c.fd.get(), hello_for("auto.test").size(), hello, d) != IoStatus::ok) return;
      send_all(c.fd.get(), pattern_bytes(7, kReply), d);
    });
    // A stream is told by receives that find a whole buffer waiting. Small
    // buffers, and a client that starts reading only once the backend is
    // ahead, make that true whatever the machine's speed: a sanitized proxy
    // that out-read its backend once saw partial receives and stayed copied.
    ConfigSpec spec = base_config();
    spec.forwarding_extra = "buffer_size = 4096\n";
    if (auto_sockmap) spec.forwarding_extra += "auto_sockmap = true\n";
    ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("auto.test", backend)}));

    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    const std::uint16_t port = local_endpoint(c.get()).port;
    ASSERT_EQ(send_all(c.get(), hello_for("auto.test"), Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    std::this_thread::sleep_for(milliseconds(200));
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(10'000)));
    EXPECT_EQ(r.status, IoStatus::eof);
    EXPECT_TRUE(r.bytes == pattern_bytes(7, kReply));
    c.reset();

    auto entry = access_entry(port);
    ASSERT_TRUE(entry) << "no access-log line for client port " << port;
    EXPECT_EQ((*entry)["mode"], "auto/splice");
    EXPECT_EQ((*entry)["bytes_out"], std::to_string(kReply));
  }
};

TEST_P(AutoModeTest, LongStreamMovesToSpliceMidwayAndArrivesIntact) {
  stream_moves_to_splice(false);
}

TEST_P(AutoModeTest, LongStreamMovesToSpliceAlsoWhenAutoMayUseSockmap) {
  stream_moves_to_splice(true);
}

TEST_P(AutoModeTest, SmallMessagesBackAndForthStayCopiedPastTheByteMark) {
  // 400 round trips of 1 KiB: 400 KiB each way, past the 256 KiB at which
  // a stream moves to splice, but no receive ever finds a buffer full.
  constexpr std::size_t kMessage = 1024;
  constexpr int kRoundTrips = 400;
  Backend backend(echo_handler());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("auto.test", backend)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t port = local_endpoint(c.get()).port;
  const auto hello = hello_for("auto.test");
  std::vector<std::uint8_t> back;
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  ASSERT_EQ(read_exact(c.get(), hello.size(), back, Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  const Deadline d = Deadline::in(milliseconds(20'000));
  for (int i = 0; i < kRoundTrips; ++i) {
    const auto message = pattern_bytes(static_cast<std::uint64_t>(i), kMessage);
    ASSERT_EQ(send_all(c.get(), message, d), IoStatus::ok) << i;
    back.clear();
    ASSERT_EQ(read_exact(c.get(), kMessage, back, d), IoStatus::ok) << i;
    ASSERT_EQ(back, message) << i;
  }
  shutdown_write(c.get());
  EXPECT_EQ(read_until_closed(c.get(), d).status, IoStatus::eof);
  c.reset();
  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  EXPECT_EQ((*entry)["mode"], "auto/copy");
  EXPECT_EQ((*entry)["bytes_in"], std::to_string(hello.size() + kRoundTrips * kMessage));
}

TEST_P(AutoModeTest, StartUpSaysWhatAutoWillDoAndWhy) {
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "a.test", .deny = true}}));
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=forwarding_auto listeners=tls policy=\"copy, then splice once a "
                     "direction has carried 262144 bytes and streams (its last 4 receives each "
                     "filled a whole buffer); small messages back and forth stay copied\" "
                     "why=\"splicing skips the userspace copy"),
            std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(Auto, AutoModeTest, ::testing::Values(std::string("auto")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
