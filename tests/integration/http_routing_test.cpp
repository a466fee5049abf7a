// The HTTP listener: routing by Host (port stripped), the request forwarded
// byte for byte, and the status lines for what cannot be routed.
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class HttpRoutingTest : public ProxyTest {
 protected:
  ConfigSpec http_config() {
    ConfigSpec spec = base_config();
    spec.listeners[0].name = "http";
    spec.listeners[0].protocol = "http";
    return spec;
  }

  // Sends a request and returns everything the proxy answered before closing.
  ReadAll answer_to(std::uint16_t port, const std::string& request,
                    std::uint16_t* client_port = nullptr) {
    UniqueFd c = connect_to(port);
    if (!c) return {};
    if (client_port != nullptr) *client_port = local_endpoint(c.get()).port;
    EXPECT_EQ(send_all(c.get(), request, Deadline::in(milliseconds(3000))), IoStatus::ok);
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(5000)));
    EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset)
        << "not closed: " << to_string(r.status);
    return r;
  }

  static void expect_status(const ReadAll& r, const std::string& status_line) {
    const std::string text = to_text(r.bytes);
    EXPECT_EQ(text.rfind(status_line, 0), 0u) << "answer was: " << text;
    EXPECT_NE(text.find("\r\n\r\n"), std::string::npos) << "no end of head: " << text;
    // Case-insensitive "Connection: close".
    std::string lower = text;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_NE(lower.find("connection: close"), std::string::npos) << "answer was: " << text;
  }
};

TEST_P(HttpRoutingTest, HostRoutesAndRequestIsForwardedExactly) {
  RecordingBackend a("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
  RecordingBackend b("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
  ConfigSpec spec = http_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("a.test", a), route("b.test", b)}));
  const std::uint16_t port = listener_port();

  const std::string req_a =
      "POST /x HTTP/1.1\r\nHost: a.test:8080\r\nContent-Length: 5\r\nX-Odd:  spaced \r\n\r\nhello";
  UniqueFd c = connect_to(port);
  ASSERT_TRUE(c);
  ASSERT_EQ(send_all(c.get(), req_a, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  const std::string expected_answer = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  ASSERT_EQ(read_exact(c.get(), expected_answer.size(), got, Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  EXPECT_EQ(to_text(got), expected_answer);
  EXPECT_EQ(
      to_text(a.recording().wait_bytes(0, req_a.size(), Deadline::in(milliseconds(3000))).bytes),
      req_a);

  const std::string req_b = "GET / HTTP/1.1\r\nUser-Agent: t\r\nhost: B.TEST\r\n\r\n";
  UniqueFd c2 = connect_to(port);
  ASSERT_TRUE(c2);
  ASSERT_EQ(send_all(c2.get(), req_b, Deadline::in(milliseconds(3000))), IoStatus::ok);
  EXPECT_EQ(
      to_text(b.recording().wait_bytes(0, req_b.size(), Deadline::in(milliseconds(3000))).bytes),
      req_b);
  EXPECT_EQ(a.accepted(), 1);
  EXPECT_EQ(b.accepted(), 1);
}

TEST_P(HttpRoutingTest, UnknownHostGets421) {
  ConfigSpec spec = http_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "a.test", .backend = "127.0.0.1:1"}}));
  std::uint16_t client_port = 0;
  auto r = answer_to(listener_port(), "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n", &client_port);
  expect_status(r, "HTTP/1.1 421");
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "no_route");
  EXPECT_EQ((*entry)["listener"], "http");
}

TEST_P(HttpRoutingTest, DeniedHostGets403) {
  ConfigSpec spec = http_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "denied.test", .deny = true}}));
  std::uint16_t client_port = 0;
  auto r = answer_to(listener_port(), "GET / HTTP/1.1\r\nHost: denied.test\r\n\r\n", &client_port);
  expect_status(r, "HTTP/1.1 403");
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "denied");
}

TEST_P(HttpRoutingTest, MalformedRequestGets400) {
  ConfigSpec spec = http_config();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "a.test", .backend = "127.0.0.1:1"}}));
  auto r = answer_to(listener_port(), "GARBAGE\r\n\r\n");
  expect_status(r, "HTTP/1.1 400");
}

TEST_P(HttpRoutingTest, RefusedBackendGets502) {
  ConfigSpec spec = http_config();
  ASSERT_NO_FATAL_FAILURE(
      start_routing(spec, {{.match = "a.test", .backend = loopback(closed_port()).to_string()}}));
  std::uint16_t client_port = 0;
  auto r = answer_to(listener_port(), "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", &client_port);
  expect_status(r, "HTTP/1.1 502");
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "connect_failed");
}

TEST_P(HttpRoutingTest, UnansweredConnectGets504) {
  // A listener that never accepts, its queue full, drops further SYNs.
  UniqueFd black_hole = listen_tcp(loopback(0), 0);
  const Endpoint hole = local_endpoint(black_hole.get());
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 4; ++i) {
    auto c = connect_tcp(hole, Deadline::in(milliseconds(300)));
    if (c.fd) fillers.push_back(std::move(c.fd));
  }
  ConfigSpec spec = http_config();
  spec.connect_timeout = "1s";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {{.match = "a.test", .backend = hole.to_string()}}));
  std::uint16_t client_port = 0;
  const auto t0 = Clock::now();
  auto r = answer_to(listener_port(), "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", &client_port);
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  expect_status(r, "HTTP/1.1 504");
  EXPECT_GE(waited.count(), 700);
  EXPECT_LE(waited.count(), 4000);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "connect_timeout");
}

SNIPROXY_INSTANTIATE_FOR_MODES(HttpRoutingTest);

}  // namespace
}  // namespace sniproxy::integration
