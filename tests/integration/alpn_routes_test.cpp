// Routes with `alpn` on the real binary: for one name, a client offering
// acme-tls/1 reaches the ACME responder and every other client the server;
// an HTTP listener never takes an alpn route; /metrics tells the routes
// apart.
#include <fmt/format.h>

#include "support/admin_client.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AlpnRoutesTest : public ProxyTest {
 protected:
  std::uint16_t admin_port_ = free_port();

  // `a.example` to `server`, and with alpn acme-tls/1 to `acme`; /metrics on.
  void start(const RecordingBackend& server, const RecordingBackend& acme) {
    ConfigSpec spec = base_config();
    spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_);
    auto& routes = spec.table("default");
    routes.push_back(route("a.example", server));
    routes.push_back({.match = "a.example", .backend = acme.address(), .alpn = {"acme-tls/1"}});
    ASSERT_NO_FATAL_FAILURE(start_proxy(spec, {admin_port_}));
  }

  // Sends `hello` and expects `greeting` from the backend it reached.
  void expect_reaches(const std::vector<std::uint8_t>& hello, const std::string& greeting) {
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), greeting.size(), got, Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    EXPECT_EQ(to_text(got), greeting);
  }
};

TEST_P(AlpnRoutesTest, AcmeReachesTheResponderOthersTheServer) {
  RecordingBackend server("SERVER");
  RecordingBackend acme("ACME!!");
  ASSERT_NO_FATAL_FAILURE(start(server, acme));

  const auto acme_hello = build_client_hello({.server_name = "a.example", .alpn = {"acme-tls/1"}});
  expect_reaches(acme_hello, "ACME!!");
  // The responder gets the hello as sent, to answer the challenge itself.
  EXPECT_EQ(
      acme.recording().wait_bytes(0, acme_hello.size(), Deadline::in(milliseconds(3000))).bytes,
      acme_hello);
  expect_reaches(build_client_hello({.server_name = "a.example", .alpn = {"h2", "http/1.1"}}),
                 "SERVER");
  expect_reaches(build_client_hello({.server_name = "a.example"}), "SERVER");
  EXPECT_EQ(acme.accepted(), 1);
  EXPECT_EQ(server.accepted(), 2);

  const Scrape s = parse_exposition(http_get(admin_port_, "/metrics").body);
  EXPECT_EQ(s.at(R"(sniproxy_route_connections_total{table="default",route="a.example"})"), 2);
  EXPECT_EQ(s.at(R"(sniproxy_route_connections_total{table="default",route="a.example",)"
                 R"(alpn="acme-tls/1"})"),
            1);
}

TEST_P(AlpnRoutesTest, HttpListenerNeverTakesTheAlpnRoute) {
  RecordingBackend server("SERVER");
  RecordingBackend acme("ACME!!");
  ConfigSpec spec = base_config();
  spec.listeners[0].protocol = "http";
  auto& routes = spec.table("default");
  routes.push_back({.match = "a.example", .backend = acme.address(), .alpn = {"http/1.1"}});
  routes.push_back({.match = "*.example", .backend = server.address()});
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::string request = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
  expect_reaches(std::vector<std::uint8_t>(request.begin(), request.end()), "SERVER");
  EXPECT_EQ(acme.accepted(), 0);
}

SNIPROXY_INSTANTIATE_FOR_MODES(AlpnRoutesTest);

}  // namespace
}  // namespace sniproxy::integration
