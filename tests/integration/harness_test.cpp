// The harness checked against itself, without the proxy ("direct" mode):
// clients talk straight to backends, so a failure here is a harness bug.
#include <gtest/gtest.h>

#include <thread>

#include "protocol/client_hello.hpp"
#include "support/access_log.hpp"
#include "support/backend.hpp"
#include "support/backend_behaviours.hpp"
#include "support/config_text.hpp"
#include "support/duplex.hpp"
#include "support/pattern.hpp"
#include "support/socket_io.hpp"
#include "support/tls_hello.hpp"

namespace sniproxy::integration {
namespace {

using protocol::ParseStatus;

ParseStatus parse_hello(const std::vector<std::uint8_t>& bytes, protocol::ClientHelloInfo* info) {
  protocol::ClientHelloParser parser(65536);
  ParseStatus s = parser.feed(bytes);
  if (s == ParseStatus::done) *info = parser.info();
  return s;
}

TEST(HarnessHello, HasSniAndAlpnAndParses) {
  auto hello = build_client_hello({.server_name = "a.test", .alpn = {"h2", "http/1.1"}});
  ASSERT_GT(hello.size(), 5u);
  EXPECT_EQ(hello[0], 0x16);
  EXPECT_EQ(hello[5], 0x01);
  EXPECT_EQ(std::size_t(hello[3] << 8 | hello[4]), hello.size() - 5);
  protocol::ClientHelloInfo info;
  ASSERT_EQ(parse_hello(hello, &info), ParseStatus::done);
  EXPECT_EQ(info.server_name, "a.test");
  EXPECT_EQ(info.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(HarnessHello, NoSni) {
  protocol::ClientHelloInfo info;
  ASSERT_EQ(parse_hello(build_client_hello({}), &info), ParseStatus::done);
  EXPECT_FALSE(info.server_name.has_value());
}

TEST(HarnessHello, PaddedAndSplitAcrossRecords) {
  auto hello = build_client_hello(
      {.server_name = "split.test", .pad_handshake_to = 3000, .max_record_payload = 100});
  // 3000 bytes of handshake in 100-byte records: 30 records of 5-byte headers.
  EXPECT_EQ(hello.size(), 3000u + 30 * 5);
  protocol::ClientHelloInfo info;
  ASSERT_EQ(parse_hello(hello, &info), ParseStatus::done);
  EXPECT_EQ(info.server_name, "split.test");
}

TEST(HarnessPattern, ChunkingDoesNotChangeTheStream) {
  auto whole = pattern_bytes(7, 1000);
  PatternStream s(7);
  std::vector<std::uint8_t> pieces(1000);
  std::size_t off = 0;
  for (std::size_t n : {1, 3, 8, 13, 100, 875}) {
    s.fill(std::span(pieces.data() + off, n));
    off += n;
  }
  EXPECT_EQ(whole, pieces);
  EXPECT_NE(pattern_bytes(8, 1000), whole);
  PatternChecker ok(7);
  ok.consume(std::span(whole.data(), 500));
  ok.consume(std::span(whole.data() + 500, 500));
  EXPECT_FALSE(ok.first_mismatch());
  whole[777] ^= 1;
  PatternChecker bad(7);
  bad.consume(whole);
  EXPECT_EQ(bad.first_mismatch(), 777u);
}

TEST(HarnessBackend, EchoDuplexDirect) {
  // Echo sends back what it gets, so both streams use the same seed.
  Backend echo(echo_handler());
  auto c = connect_tcp(echo.endpoint(), Deadline::in(milliseconds(2000)));
  ASSERT_TRUE(c.fd);
  DuplexPlan plan{
      .send_seed = 5, .send_bytes = 8 << 20, .receive_seed = 5, .receive_bytes = 8 << 20};
  auto r = run_duplex(c.fd.get(), plan, Deadline::in(milliseconds(30'000)));
  EXPECT_TRUE(r.complete(plan)) << to_string(r.status) << " sent=" << r.sent
                                << " received=" << r.received;
}

TEST(HarnessBackend, RecordingSeesBytesAndGreets) {
  RecordingBackend b("hi");
  auto c = connect_tcp(b.endpoint(), Deadline::in(milliseconds(2000)));
  ASSERT_TRUE(c.fd);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(c.fd.get(), 2, got, Deadline::in(milliseconds(2000))), IoStatus::ok);
  EXPECT_EQ(to_text(got), "hi");
  ASSERT_EQ(send_all(c.fd.get(), "hello", Deadline::in(milliseconds(2000))), IoStatus::ok);
  auto seen = b.recording().wait_bytes(0, 5, Deadline::in(milliseconds(2000)));
  EXPECT_EQ(to_text(seen.bytes), "hello");
  c.fd.reset();
  EXPECT_TRUE(b.recording().wait_closed(0, Deadline::in(milliseconds(2000))).closed);
}

TEST(HarnessBackend, ResetIsSeenAsReset) {
  Backend b(reset_handler(3));
  auto c = connect_tcp(b.endpoint(), Deadline::in(milliseconds(2000)));
  ASSERT_TRUE(c.fd);
  ASSERT_EQ(send_all(c.fd.get(), "abc", Deadline::in(milliseconds(2000))), IoStatus::ok);
  auto r = read_until_closed(c.fd.get(), Deadline::in(milliseconds(2000)));
  EXPECT_EQ(r.status, IoStatus::reset);
}

TEST(HarnessBackend, ClientResetIsSeenByBackend) {
  RecordingBackend b;
  auto c = connect_tcp(b.endpoint(), Deadline::in(milliseconds(2000)));
  ASSERT_TRUE(c.fd);
  ASSERT_TRUE(b.wait_accepted(1, Deadline::in(milliseconds(2000))));
  close_with_reset(c.fd);
  auto seen = b.recording().wait_closed(0, Deadline::in(milliseconds(2000)));
  EXPECT_TRUE(seen.closed);
  EXPECT_EQ(seen.close_status, IoStatus::reset);
}

TEST(HarnessBackend, SendPatternThenEof) {
  Backend b(send_pattern_handler(4, 1 << 20, 99));
  auto c = connect_tcp(b.endpoint(), Deadline::in(milliseconds(2000)));
  ASSERT_TRUE(c.fd);
  ASSERT_EQ(send_all(c.fd.get(), "skip", Deadline::in(milliseconds(2000))), IoStatus::ok);
  auto r = read_until_closed(c.fd.get(), Deadline::in(milliseconds(5000)));
  EXPECT_EQ(r.status, IoStatus::eof);
  EXPECT_EQ(r.bytes, pattern_bytes(99, 1 << 20));
}

TEST(HarnessSockets, RefusedConnect) {
  UniqueFd l = listen_tcp(loopback(0));
  const Endpoint closed = local_endpoint(l.get());
  l.reset();
  auto c = connect_tcp(closed, Deadline::in(milliseconds(2000)));
  EXPECT_FALSE(c.fd);
  EXPECT_EQ(c.error, ECONNREFUSED);
}

TEST(HarnessSockets, FullBacklogMakesConnectTimeOut) {
  // The trick the 504 test relies on: a listener that never accepts, its
  // queue filled, drops further SYNs, so a connect hangs.
  UniqueFd l = listen_tcp(loopback(0), 0);
  const Endpoint at = local_endpoint(l.get());
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 4; ++i) {
    auto c = connect_tcp(at, Deadline::in(milliseconds(300)));
    if (c.fd) fillers.push_back(std::move(c.fd));
  }
  auto c = connect_tcp(at, Deadline::in(milliseconds(500)));
  EXPECT_FALSE(c.fd);
  EXPECT_EQ(c.error, ETIMEDOUT);
}

TEST(HarnessAccessLog, ParsesQuotedValues) {
  auto e = parse_access_line(
      "ts=2024-01-01T00:00:00.000Z event=access client=127.0.0.1:5 server_name=\"a b\" "
      "bytes_in=10 outcome=ok");
  EXPECT_EQ(e["client"], "127.0.0.1:5");
  EXPECT_EQ(e["server_name"], "a b");
  EXPECT_EQ(e["bytes_in"], "10");
  EXPECT_EQ(e["outcome"], "ok");
}

TEST(HarnessConfig, WritesListenersAndRoutes) {
  ConfigSpec spec;
  spec.listeners.push_back({.name = "tls", .port = 1234, .fallback = "127.0.0.1:9"});
  spec.table("default").push_back(
      {.match = "a.test", .backend = "127.0.0.1:1", .proxy_protocol = "v2"});
  spec.table("default").push_back({.match = "d.test", .deny = true});
  const std::string t = spec.to_toml();
  EXPECT_NE(t.find("address = \"127.0.0.1:1234\""), std::string::npos);
  EXPECT_NE(t.find("fallback = \"127.0.0.1:9\""), std::string::npos);
  EXPECT_NE(t.find("[[tables.default]]\nmatch = \"a.test\"\nbackend = \"127.0.0.1:1\"\n"
                   "proxy_protocol = \"v2\""),
            std::string::npos);
  EXPECT_NE(t.find("deny = true"), std::string::npos);
}

}  // namespace
}  // namespace sniproxy::integration
