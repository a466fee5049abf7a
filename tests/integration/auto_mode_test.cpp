// mode = "auto": short exchanges stay copied, long streams move to splice
// (proxy/forwarding_choice.hpp), and the switch loses or reorders nothing.
#include "support/backend_behaviours.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AutoModeTest : public ProxyTest {};

TEST_P(AutoModeTest, LongStreamMovesToSpliceMidwayAndArrivesIntact) {
  constexpr std::size_t kReply = 4u << 20;  // well past the switch point
  Backend backend([](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(10'000));
    std::vector<std::uint8_t> hello;
    if (read_exact(c.fd.get(), hello_for("auto.test").size(), hello, d) != IoStatus::ok) return;
    send_all(c.fd.get(), pattern_bytes(7, kReply), d);
  });
  ASSERT_NO_FATAL_FAILURE(start_routing({route("auto.test", backend)}));

  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("auto.test"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(10'000)));
  EXPECT_EQ(r.status, IoStatus::eof);
  EXPECT_EQ(r.bytes, pattern_bytes(7, kReply));
  c.reset();

  auto entry = access_entry(port);
  ASSERT_TRUE(entry) << "no access-log line for client port " << port;
  EXPECT_EQ((*entry)["mode"], "auto/splice");
  EXPECT_EQ((*entry)["bytes_out"], std::to_string(kReply));
}

TEST_P(AutoModeTest, StartUpSaysWhatAutoWillDoAndWhy) {
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "a.test", .deny = true}}));
  const std::string log = proxy_->log();
  EXPECT_NE(
      log.find("event=forwarding_auto listeners=tls policy=\"copy, then splice once a "
               "direction has carried 262144 bytes\" why=\"splicing skips the userspace copy"),
      std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(Auto, AutoModeTest, ::testing::Values(std::string("auto")), mode_name);

}  // namespace
}  // namespace sniproxy::integration
