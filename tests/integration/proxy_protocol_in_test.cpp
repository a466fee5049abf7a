// A listener behind a load balancer: proxy_protocol_in reads the PROXY
// header the balancer puts in front of each client's bytes. The client it
// names is the client everywhere (the header sent to the backend, the access
// log, the per-source limit); peers outside trusted_sources, and connections
// without a valid header, are closed unforwarded with their own outcome.
#include <thread>

#include "protocol/proxy_protocol.hpp"
#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

const Endpoint kBalancedClient = *Endpoint::parse("203.0.113.7:40001");
const Endpoint kBalancedTo = *Endpoint::parse("198.51.100.1:443");

std::vector<std::uint8_t> v1_header(const Endpoint& from) {
  return to_bytes(protocol::proxy_v1_header(from, kBalancedTo));
}

std::vector<std::uint8_t> v2_header(const Endpoint& from) {
  return protocol::proxy_v2_header(from, kBalancedTo, "");
}

// A v2 LOCAL header: a balancer's own health check, no client in it.
std::vector<std::uint8_t> v2_local_header() {
  return {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
          0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00};
}

std::vector<std::uint8_t> joined(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ProxyProtocolInTest : public ProxyTest {
 protected:
  // A listener taking `version` headers from `trusted`, routing a.example
  // to the recording backend with a v2 header of its own.
  void start(const std::string& version, const std::string& trusted, std::string extra = "") {
    ConfigSpec spec = base_config();
    spec.listeners[0].lines =
        "proxy_protocol_in = \"" + version + "\"\ntrusted_sources = [\"" + trusted + "\"]\n";
    spec.extra = std::move(extra);
    ASSERT_NO_FATAL_FAILURE(start_routing(
        spec, {{.match = "a.example", .backend = backend_.address(), .proxy_protocol = "v2"}}));
  }

  // Sends `bytes` as the balancer would and returns the connection.
  UniqueFd send_as_balancer(const std::vector<std::uint8_t>& bytes) {
    UniqueFd c = connect_to(listener_port());
    if (c) {
      EXPECT_EQ(send_all(c.get(), bytes, Deadline::in(milliseconds(3000))), IoStatus::ok);
    }
    return c;
  }

  // The proxy closes the connection without a byte of the backend's.
  void expect_closed_unforwarded(UniqueFd& c) {
    auto all = read_until_closed(c.get(), Deadline::in(milliseconds(3000)));
    EXPECT_NE(all.status, IoStatus::timeout);
    EXPECT_EQ(to_text(all.bytes).find("ok"), std::string::npos);
    EXPECT_EQ(backend_.recording().connections(), 0);
  }

  RecordingBackend backend_{"ok"};
};

TEST_P(ProxyProtocolInTest, TrustedHeadersNameTheClientToTheBackendAndTheLog) {
  ASSERT_NO_FATAL_FAILURE(start("any", "127.0.0.0/8"));
  const auto hello = hello_for("a.example");
  int index = 0;
  for (const auto& header : {v1_header(kBalancedClient), v2_header(kBalancedClient)}) {
    UniqueFd c = send_as_balancer(joined(header, hello));
    ASSERT_TRUE(c.valid());
    std::vector<std::uint8_t> greeting;
    ASSERT_EQ(read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
    auto seen = backend_.recording().wait_bytes(index, 16, Deadline::in(milliseconds(3000)));
    auto upstream = protocol::parse_proxy_header(seen.bytes);
    for (int i = 0; i < 50 && !upstream; ++i) {
      seen = backend_.recording().wait_bytes(index, seen.bytes.size() + 1,
                                             Deadline::in(milliseconds(100)));
      upstream = protocol::parse_proxy_header(seen.bytes);
    }
    ASSERT_TRUE(upstream) << "no PROXY header reached the backend";
    EXPECT_EQ(upstream->source, kBalancedClient);
    EXPECT_EQ(upstream->destination, kBalancedTo);
    seen = backend_.recording().wait_bytes(index, upstream->size + hello.size(),
                                           Deadline::in(milliseconds(3000)));
    EXPECT_EQ(std::vector<std::uint8_t>(seen.bytes.begin() + static_cast<long>(upstream->size),
                                        seen.bytes.end()),
              hello)
        << "the hello must follow, the balancer's header gone";
    c.reset();
    auto entry = access_entry(kBalancedClient.port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["client"], kBalancedClient.to_string());
    EXPECT_EQ((*entry)["outcome"], "ok");
    ++index;
  }
}

TEST_P(ProxyProtocolInTest, AHeaderSplitAcrossSegmentsIsWaitedFor) {
  ASSERT_NO_FATAL_FAILURE(start("v2", "127.0.0.1"));
  const auto bytes = joined(v2_header(kBalancedClient), hello_for("a.example"));
  UniqueFd c = connect_to(listener_port());
  ASSERT_TRUE(c.valid());
  // Inside the signature, inside the length, then the rest with the hello.
  std::size_t sent = 0;
  for (std::size_t upto : {std::size_t{5}, std::size_t{14}, bytes.size()}) {
    ASSERT_EQ(send_all(c.get(), std::span(bytes).subspan(sent, upto - sent),
                       Deadline::in(milliseconds(1000))),
              IoStatus::ok);
    sent = upto;
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::vector<std::uint8_t> greeting;
  ASSERT_EQ(read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
  EXPECT_EQ(to_text(greeting), "ok");
}

TEST_P(ProxyProtocolInTest, APeerOutsideTrustedSourcesIsClosedUnforwarded) {
  ASSERT_NO_FATAL_FAILURE(start("any", "192.0.2.0/24"));
  UniqueFd c = send_as_balancer(joined(v1_header(kBalancedClient), hello_for("a.example")));
  ASSERT_TRUE(c.valid());
  const std::uint16_t port = local_endpoint(c.get()).port;
  expect_closed_unforwarded(c);
  auto entry = access_entry(port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "untrusted_source");
  EXPECT_EQ((*entry)["client"], "127.0.0.1:" + std::to_string(port));
}

TEST_P(ProxyProtocolInTest, MissingMalformedOrWrongVersionHeadersAreClosedUnforwarded) {
  ASSERT_NO_FATAL_FAILURE(start("v1", "127.0.0.0/8"));
  const auto hello = hello_for("a.example");
  for (const auto& bytes : {hello,                                               // no header
                            joined(to_bytes("PROXY TCP4 nonsense\r\n"), hello),  // malformed
                            joined(v2_header(kBalancedClient), hello)}) {  // v2 where v1 is set
    UniqueFd c = send_as_balancer(bytes);
    ASSERT_TRUE(c.valid());
    const std::uint16_t port = local_endpoint(c.get()).port;
    expect_closed_unforwarded(c);
    auto entry = access_entry(port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["outcome"], "bad_proxy_header");
  }
}

TEST_P(ProxyProtocolInTest, AHeaderThatNeverEndsRunsOutTheHelloDeadline) {
  ASSERT_NO_FATAL_FAILURE(start("any", "127.0.0.0/8"));
  UniqueFd c = send_as_balancer(to_bytes("PROXY TCP4 203.0.113.7 "));
  ASSERT_TRUE(c.valid());
  const std::uint16_t port = local_endpoint(c.get()).port;
  expect_closed_unforwarded(c);
  auto entry = access_entry(port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "hello_timeout");
}

TEST_P(ProxyProtocolInTest, ALocalHeaderKeepsThePeerAsTheClient) {
  ASSERT_NO_FATAL_FAILURE(start("v2", "127.0.0.0/8"));
  UniqueFd c = send_as_balancer(joined(v2_local_header(), hello_for("a.example")));
  ASSERT_TRUE(c.valid());
  const std::uint16_t port = local_endpoint(c.get()).port;
  std::vector<std::uint8_t> greeting;
  ASSERT_EQ(read_exact(c.get(), 2, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
  c.reset();
  auto entry = access_entry(port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["client"], "127.0.0.1:" + std::to_string(port));
}

TEST_P(ProxyProtocolInTest, ThePerSourceLimitCountsTheClientsNotTheBalancer) {
  ASSERT_NO_FATAL_FAILURE(start("v1", "127.0.0.0/8", "[limits]\nmax_connections_per_source = 1\n"));
  const auto hello = hello_for("a.example");
  // Two clients behind one balancer: both served.
  UniqueFd first = send_as_balancer(joined(v1_header(kBalancedClient), hello));
  const Endpoint other = *Endpoint::parse("203.0.113.8:40002");
  UniqueFd second = send_as_balancer(joined(v1_header(other), hello));
  std::vector<std::uint8_t> greeting;
  ASSERT_EQ(read_exact(first.get(), 2, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
  ASSERT_EQ(read_exact(second.get(), 2, greeting, Deadline::in(milliseconds(3000))), IoStatus::ok);
  // The first client again, while its connection is open: over its limit.
  const Endpoint again = *Endpoint::parse("203.0.113.7:40003");
  UniqueFd third = send_as_balancer(joined(v1_header(again), hello));
  auto all = read_until_closed(third.get(), Deadline::in(milliseconds(3000)));
  EXPECT_NE(all.status, IoStatus::timeout);
  auto entry = access_entry(again.port);
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["outcome"], "limit");
  EXPECT_EQ((*entry)["client"], again.to_string());
}

SNIPROXY_INSTANTIATE_FOR_MODES(ProxyProtocolInTest);

}  // namespace
}  // namespace sniproxy::integration
