// The /metrics counters and their exposition: histogram buckets, route
// counters that survive lookups by value, label escaping, and a document
// in which every sample belongs to a declared family.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "observe/admin_server.hpp"
#include "observe/metrics.hpp"
#include "observe/metrics_exposition.hpp"

namespace sniproxy::proxy {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(LatencyHistogramTest, BucketsAreCumulativeAndBoundsInclusive) {
  observe::LatencyHistogram h;
  h.observe(microseconds(50));          // <= 0.0001
  h.observe(microseconds(100));         // == 0.0001: `le` includes the bound
  h.observe(milliseconds(3));           // <= 0.005
  h.observe(std::chrono::seconds(10));  // above every bound
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[4], 2u);  // 0.0025
  EXPECT_EQ(s.cumulative[5], 3u);  // 0.005
  EXPECT_EQ(s.cumulative.back(), 3u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_NEAR(s.sum_seconds, 10.00315, 1e-9);
}

TEST(MetricsTest, RoutesAreKeptByTableAndPattern) {
  observe::Metrics m(1);
  observe::RouteMetrics& a = m.route("t", "a.example");
  observe::bump(a.connections);
  EXPECT_EQ(&m.route("t", "a.example"), &a);  // a reload finds the same counters
  EXPECT_NE(&m.route("u", "a.example"), &a);
  const auto routes = m.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].table, "t");
  EXPECT_EQ(routes[0].pattern, "a.example");
  EXPECT_EQ(observe::read(routes[0].metrics->connections), 1u);
}

TEST(MetricsTest, RoutesOfOnePatternAreApartByAlpn) {
  observe::Metrics m(1);
  observe::RouteMetrics& plain = m.route("t", "a.example");
  observe::RouteMetrics& acme = m.route("t", "a.example", "acme-tls/1");
  EXPECT_NE(&plain, &acme);
  EXPECT_EQ(&m.route("t", "a.example", "acme-tls/1"), &acme);
  const auto routes = m.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].pattern, "a.example");
  EXPECT_EQ(routes[0].alpn, "");
  EXPECT_EQ(routes[1].pattern, "a.example");
  EXPECT_EQ(routes[1].alpn, "acme-tls/1");
}

TEST(MetricsTest, HelloFailuresByReason) {
  observe::Metrics m(1);
  m.hello_failure("not_tls");
  m.hello_failure("not_tls");
  m.hello_failure("too_large");
  const auto f = m.hello_failures();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::uint64_t>{"not_tls", 2}));
  EXPECT_EQ(f[1], (std::pair<std::string, std::uint64_t>{"too_large", 1}));
}

TEST(ExpositionTest, EscapesLabelValues) {
  EXPECT_EQ(observe::escape_label_value(R"(~^a\.b"c)"), R"(~^a\\.b\"c)");
  EXPECT_EQ(observe::escape_label_value("x\ny"), "x\\ny");
}

TEST(ExpositionTest, EverySampleFollowsItsFamilysTypeLine) {
  observe::Metrics m(2);
  observe::bump(m.listener(0).accepted, 3);
  observe::bump(m.listener(0).closed[static_cast<std::size_t>(observe::Outcome::ok)], 2);
  observe::bump(m.route("default", R"(~^api[0-9]+\.example$)").connections);
  observe::bump(m.route("default", "a.example", "acme-tls/1,h2").connections, 4);
  observe::bump(m.accept_pauses, 2);
  observe::bump(m.listener(0).fast_open_syn_data, 5);
  observe::bump(m.fast_open_syn_data_sent, 6);
  observe::bump(m.descriptor_waits, 7);
  observe::bump(m.ech_offers, 3);
  m.hello_failure("not_tls");
  m.connect_latency.observe(microseconds(700));
  observe::bump(m.pool_server("web", "10.0.0.1:443").connections, 4);
  observe::bump(m.pool_server("web", "10.0.0.1:443").connect_ns, 2'000'000);
  observe::bump(m.pool_server("web", "10.0.0.2:443").failures, 3);
  observe::ExpositionContext ctx;
  ctx.version = "1.2.3";
  ctx.reactor_backend = "epoll";
  ctx.pool_servers = {{"web", "10.0.0.1:443", true}, {"web", "10.0.0.2:443", false}};
  ctx.listeners = {{"tls", "copy"}, {"http", "splice"}};
  ctx.xdp_packets = {{"passed", 5}};
  const std::string text = observe::render_prometheus(m, ctx);

  std::istringstream in(text);
  std::set<std::string> families;
  std::string current;
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(current).second) << "family declared twice: " << current;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.rfind(current, 0), 0u) << line << " is not in family " << current;
    ++samples;
  }
  EXPECT_GT(samples, 40);
  auto has = [&](const std::string& s) { return text.find(s + "\n") != std::string::npos; };
  EXPECT_TRUE(has(R"(sniproxy_connections_accepted_total{listener="tls"} 3)"));
  EXPECT_TRUE(has(R"(sniproxy_connections_active{listener="tls"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_connections_active{listener="http"} 0)"));
  EXPECT_TRUE(has(R"(sniproxy_connections_closed_total{listener="tls",outcome="ok"} 2)"));
  EXPECT_TRUE(
      has(R"(sniproxy_route_connections_total{table="default",route="~^api[0-9]+\\.example$"} 1)"));
  EXPECT_TRUE(has(
      R"(sniproxy_route_connections_total{table="default",route="a.example",alpn="acme-tls/1,h2"} 4)"));
  EXPECT_TRUE(has(R"(sniproxy_hello_failures_total{reason="not_tls"} 1)"));
  EXPECT_TRUE(has("sniproxy_ech_offers_total 3"));
  EXPECT_TRUE(has("sniproxy_accept_pauses_total 2"));
  EXPECT_TRUE(has("sniproxy_descriptor_waits_total 7"));
  EXPECT_TRUE(has(R"(sniproxy_upstream_connect_seconds_bucket{le="0.0005"} 0)"));
  EXPECT_TRUE(has(R"(sniproxy_upstream_connect_seconds_bucket{le="0.001"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_upstream_connect_seconds_bucket{le="+Inf"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_fast_open_syn_data_total{listener="tls"} 5)"));
  EXPECT_TRUE(has(R"(sniproxy_fast_open_syn_data_total{listener="http"} 0)"));
  EXPECT_TRUE(has("sniproxy_fast_open_syn_data_sent_total 6"));
  EXPECT_TRUE(has(R"(sniproxy_listener_forwarding_mode{listener="http",mode="splice"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_xdp_packets_total{verdict="passed"} 5)"));
  EXPECT_TRUE(has(R"(sniproxy_build_info{version="1.2.3"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_reactor_backend{backend="epoll"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_pool_server_up{pool="web",server="10.0.0.1:443"} 1)"));
  EXPECT_TRUE(has(R"(sniproxy_pool_server_up{pool="web",server="10.0.0.2:443"} 0)"));
  EXPECT_TRUE(has(R"(sniproxy_pool_server_connections_total{pool="web",server="10.0.0.1:443"} 4)"));
  EXPECT_TRUE(has(R"(sniproxy_pool_server_failures_total{pool="web",server="10.0.0.2:443"} 3)"));
  EXPECT_TRUE(
      has(R"(sniproxy_pool_server_connect_seconds_sum{pool="web",server="10.0.0.1:443"} 0.002)"));
  EXPECT_TRUE(
      has(R"(sniproxy_pool_server_connect_seconds_count{pool="web",server="10.0.0.1:443"} 4)"));
}

TEST(ExpositionTest, NoXdpFamilyWithoutXdp) {
  observe::Metrics m(0);
  EXPECT_EQ(observe::render_prometheus(m, observe::ExpositionContext{}).find("xdp"),
            std::string::npos);
}

TEST(ExpositionTest, SockmapFamiliesOnlyInSockmapMode) {
  observe::Metrics m(0);
  EXPECT_EQ(observe::render_prometheus(m, observe::ExpositionContext{}).find("sniproxy_sockmap_"),
            std::string::npos);
  observe::bump(m.sockmap.kernel_bytes, 1000);
  observe::bump(m.sockmap.trimmed_bytes, 24);
  observe::ExpositionContext ctx;
  ctx.sockmap = true;
  const std::string text = observe::render_prometheus(m, ctx);
  EXPECT_NE(text.find("sniproxy_sockmap_bytes_total{path=\"kernel\"} 1000\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_sockmap_bytes_total{path=\"userspace\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_sockmap_trimmed_bytes_total 24\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_sockmap_connections 0\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_sockmap_fallbacks_total 0\n"), std::string::npos);
}

TEST(ExpositionTest, QuicFamiliesOnlyWithAQuicListener) {
  observe::Metrics m(0);
  EXPECT_EQ(observe::render_prometheus(m, observe::ExpositionContext{}).find("sniproxy_quic_"),
            std::string::npos);
  observe::bump(m.quic.drop(observe::QuicDrop::bad_tag), 2);
  observe::bump(m.quic.hello(observe::QuicHelloOutcome::routed));
  m.quic.sessions.store(1);
  observe::ExpositionContext ctx;
  ctx.quic = true;
  const std::string text = observe::render_prometheus(m, ctx);
  EXPECT_NE(text.find("sniproxy_quic_drops_total{reason=\"bad_tag\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_quic_drops_total{reason=\"evicted\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_quic_hellos_total{outcome=\"routed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_quic_sessions 1\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_quic_packets_total{direction=\"from_client\"} 0\n"),
            std::string::npos);
  // Every reason has its own token, and each is exported.
  std::set<std::string_view> tokens;
  for (std::size_t i = 0; i < observe::kQuicDropCount; ++i) {
    const std::string_view token = to_string(static_cast<observe::QuicDrop>(i));
    EXPECT_NE(token, "unknown");
    EXPECT_FALSE(token.empty());
    tokens.insert(token);
    EXPECT_NE(text.find("sniproxy_quic_drops_total{reason=\"" + std::string(token) + "\"}"),
              std::string::npos);
  }
  EXPECT_EQ(tokens.size(), observe::kQuicDropCount);
}

TEST(AdminResponseTest, HasLengthAndClosesTheConnection) {
  observe::AdminReply r{.status = 404, .content_type = "text/plain", .body = "nope\n"};
  EXPECT_EQ(observe::http_response(r),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            "Connection: close\r\nCache-Control: no-store\r\n\r\nnope\n");
}

}  // namespace
}  // namespace sniproxy::proxy
