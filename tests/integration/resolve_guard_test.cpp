// `resolve` routes connect to the requested name itself; the open-proxy
// guard refuses loopback destinations unless the route allows private ones.
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class ResolveGuardTest : public ProxyTest {};

TEST_P(ResolveGuardTest, LoopbackDestinationIsRefusedByDefault) {
  Backend backend(close_handler());
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "localhost", .resolve = backend.port()}}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("localhost"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  EXPECT_EQ(backend.accepted(), 0);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "guard_refused");
}

TEST_P(ResolveGuardTest, AllowPrivateConnectsToTheName) {
  RecordingBackend backend("R");
  ASSERT_NO_FATAL_FAILURE(
      start_routing({{.match = "localhost", .resolve = backend.port(), .allow_private = true}}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  auto hello = hello_for("localhost");
  ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), 1, got, Deadline::in(milliseconds(5000))), IoStatus::ok);
  EXPECT_EQ(to_text(got), "R");
  EXPECT_EQ(backend.recording().wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000))).bytes,
            hello);
  c.reset();
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["backend"], backend.address());
  EXPECT_EQ((*entry)["server_name"], "localhost");
}

SNIPROXY_INSTANTIATE_FOR_MODES(ResolveGuardTest);

}  // namespace
}  // namespace sniproxy::integration
