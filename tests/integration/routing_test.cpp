// TLS routing by SNI: exact and wildcard names, unknown and denied names
// (alerts), the listener fallback, hellos split across records and segments.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <thread>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class TlsRoutingTest : public ProxyTest {
 protected:
  // Sends `first` to the listener, expects the backend's greeting back, and
  // returns the client's local port (the access-log key).
  std::uint16_t send_and_expect_greeting(std::uint16_t port, const std::vector<std::uint8_t>& first,
                                         const std::string& greeting) {
    UniqueFd c = connect_to(port);
    if (!c) return 0;
    const std::uint16_t client_port = local_endpoint(c.get()).port;
    EXPECT_EQ(send_all(c.get(), first, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), greeting.size(), got, Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    EXPECT_EQ(to_text(got), greeting);
    return client_port;
  }

  // Sends a hello, expects exactly `alert` and then the close.
  void expect_alert_then_close(std::uint16_t port, const std::vector<std::uint8_t>& hello,
                               const std::vector<std::uint8_t>& alert) {
    UniqueFd c = connect_to(port);
    ASSERT_TRUE(c);
    ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
    EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset)
        << "connection not closed: " << to_string(r.status);
    EXPECT_EQ(r.bytes, alert);
  }
};

TEST_P(TlsRoutingTest, TwoNamesReachTwoBackendsWithTheHelloFirst) {
  RecordingBackend a("A");
  RecordingBackend b("B");
  ASSERT_NO_FATAL_FAILURE(start_routing({route("a.test", a), route("b.test", b)}));
  const std::uint16_t port = listener_port();

  auto hello_a = build_client_hello({.server_name = "a.test", .alpn = {"h2"}});
  auto with_data = hello_a;
  const std::string payload = "application bytes after the hello";
  with_data.insert(with_data.end(), payload.begin(), payload.end());
  send_and_expect_greeting(port, with_data, "A");
  auto seen = a.recording().wait_bytes(0, with_data.size(), Deadline::in(milliseconds(3000)));
  EXPECT_EQ(seen.bytes, with_data);

  auto hello_b = hello_for("b.test");
  send_and_expect_greeting(port, hello_b, "B");
  EXPECT_EQ(b.recording().wait_bytes(0, hello_b.size(), Deadline::in(milliseconds(3000))).bytes,
            hello_b);
  EXPECT_EQ(a.accepted(), 1);
  EXPECT_EQ(b.accepted(), 1);
}

TEST_P(TlsRoutingTest, NameMatchIsCaseInsensitive) {
  RecordingBackend a("A");
  ASSERT_NO_FATAL_FAILURE(start_routing({route("a.test", a)}));
  send_and_expect_greeting(listener_port(), hello_for("A.Test"), "A");
}

TEST_P(TlsRoutingTest, WildcardMatchesSubdomains) {
  RecordingBackend w("W");
  ASSERT_NO_FATAL_FAILURE(start_routing({route("*.wild.test", w)}));
  const std::uint16_t port = listener_port();
  send_and_expect_greeting(port, hello_for("x.wild.test"), "W");
  send_and_expect_greeting(port, hello_for("deep.er.wild.test"), "W");
  EXPECT_EQ(w.accepted(), 2);
  // The bare name is not a subdomain of itself.
  expect_alert_then_close(port, hello_for("wild.test"), kAlertUnrecognizedName);
}

TEST_P(TlsRoutingTest, UnknownNameGetsUnrecognizedNameAlert) {
  Backend a(close_handler());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("a.test", a)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("nope.test"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  EXPECT_EQ(r.bytes, kAlertUnrecognizedName);
  EXPECT_EQ(a.accepted(), 0);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "no_route");
  EXPECT_EQ((*entry)["server_name"], "nope.test");
  EXPECT_EQ((*entry)["backend"], "-");
}

TEST_P(TlsRoutingTest, DeniedNameGetsAccessDeniedAlert) {
  ASSERT_NO_FATAL_FAILURE(start_routing({{.match = "denied.test", .deny = true}}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  const std::uint16_t client_port = local_endpoint(c.get()).port;
  ASSERT_EQ(send_all(c.get(), hello_for("denied.test"), Deadline::in(milliseconds(3000))),
            IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  EXPECT_EQ(r.bytes, kAlertAccessDenied);
  auto entry = access_entry(client_port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "denied");
}

TEST_P(TlsRoutingTest, FallbackTakesNoSniGarbageAndUnknownNames) {
  RecordingBackend a("A");
  RecordingBackend f("F");
  ConfigSpec spec = base_config();
  spec.listeners[0].fallback = f.address();
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("a.test", a)}));
  const std::uint16_t port = listener_port();

  auto no_sni = build_client_hello({});
  send_and_expect_greeting(port, no_sni, "F");
  EXPECT_EQ(f.recording().wait_bytes(0, no_sni.size(), Deadline::in(milliseconds(3000))).bytes,
            no_sni);

  const std::string garbage = "GET / HTTP/1.0\r\n\r\n";
  send_and_expect_greeting(port, to_bytes(garbage), "F");
  EXPECT_EQ(
      to_text(f.recording().wait_bytes(1, garbage.size(), Deadline::in(milliseconds(3000))).bytes),
      garbage);

  auto unknown = hello_for("unknown.test");
  send_and_expect_greeting(port, unknown, "F");
  EXPECT_EQ(f.recording().wait_bytes(2, unknown.size(), Deadline::in(milliseconds(3000))).bytes,
            unknown);
  EXPECT_EQ(a.accepted(), 0);
}

TEST_P(TlsRoutingTest, GarbageWithoutFallbackIsClosed) {
  Backend a(close_handler());
  ASSERT_NO_FATAL_FAILURE(start_routing({route("a.test", a)}));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  // A handshake record holding a ServerHello header, not a ClientHello: it is
  // rejected as soon as it is read, well before the 500 ms hello timeout.
  const std::vector<std::uint8_t> not_a_client_hello{0x16, 0x03, 0x01, 0x00, 0x05,
                                                     0x02, 0x00, 0x00, 0x01, 0x00};
  const auto t0 = Clock::now();
  ASSERT_EQ(send_all(c.get(), not_a_client_hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
  auto r = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(r.status == IoStatus::eof || r.status == IoStatus::reset) << to_string(r.status);
  EXPECT_LT(took.count(), 400) << "closed by the hello timeout, not by the parser";
  EXPECT_EQ(a.accepted(), 0);
}

TEST_P(TlsRoutingTest, HelloSplitAcrossRecordsAndSegments) {
  RecordingBackend a("A");
  ASSERT_NO_FATAL_FAILURE(start_routing({route("split.test", a)}));
  auto hello = build_client_hello(
      {.server_name = "split.test", .pad_handshake_to = 1500, .max_record_payload = 64});
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c);
  int one = 1;
  ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Dribble it out in uneven pieces, each its own segment.
  std::size_t off = 0;
  for (std::size_t step : {1, 4, 2, 50, 300}) {
    ASSERT_EQ(
        send_all(c.get(), std::span(hello.data() + off, step), Deadline::in(milliseconds(1000))),
        IoStatus::ok);
    off += step;
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(send_all(c.get(), std::span(hello.data() + off, hello.size() - off),
                     Deadline::in(milliseconds(1000))),
            IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.get(), 1, got, Deadline::in(milliseconds(3000))), IoStatus::ok);
  EXPECT_EQ(to_text(got), "A");
  EXPECT_EQ(a.recording().wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000))).bytes,
            hello);
}

TEST_P(TlsRoutingTest, LargePaddedHello) {
  RecordingBackend a("A");
  ASSERT_NO_FATAL_FAILURE(start_routing({route("big.test", a)}));
  auto hello = build_client_hello({.server_name = "big.test", .pad_handshake_to = 12000});
  send_and_expect_greeting(listener_port(), hello, "A");
  EXPECT_EQ(a.recording().wait_bytes(0, hello.size(), Deadline::in(milliseconds(3000))).bytes,
            hello);
}

SNIPROXY_INSTANTIATE_FOR_MODES(TlsRoutingTest);

}  // namespace
}  // namespace sniproxy::integration
