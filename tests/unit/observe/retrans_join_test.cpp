// The pieces that join a retransmit with a connection: the socket index
// (by 4-tuple, IPv4-mapped addresses folded) and the bounded per-name
// counters.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "observe/metrics.hpp"
#include "observe/metrics_exposition.hpp"
#include "observe/socket_index.hpp"

namespace sniproxy::proxy {
namespace {

Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}

observe::SocketOwner owner(observe::SocketSide side, std::string server_name, std::string backend,
                           std::uint64_t connection = 0) {
  observe::SocketOwner o;
  o.connection = connection;
  o.side = side;
  o.server_name = std::move(server_name);
  o.backend = std::move(backend);
  return o;
}

TEST(SocketIndexTest, FindsBothSidesUntilRemoved) {
  observe::SocketIndex index;
  const observe::SocketKey client =
      observe::socket_key(ep("127.0.0.1:8443"), ep("127.0.0.1:40000"));
  const observe::SocketKey backend = observe::socket_key(ep("10.0.0.1:50000"), ep("10.0.0.2:443"));
  index.add(client, owner(observe::SocketSide::client, "a.test", "10.0.0.2:443", 7));
  index.add(backend, owner(observe::SocketSide::backend, "a.test", "10.0.0.2:443", 7));
  EXPECT_EQ(index.size(), 2u);
  ASSERT_TRUE(index.find(backend));
  EXPECT_EQ(index.find(backend)->side, observe::SocketSide::backend);
  EXPECT_EQ(index.find(client)->connection, 7u);
  // The same ports the other way round are another socket.
  EXPECT_FALSE(index.find(observe::SocketKey{backend.remote, backend.local}));
  index.remove(backend);
  EXPECT_FALSE(index.find(backend));
  EXPECT_EQ(index.size(), 1u);
}

TEST(SocketIndexTest, MappedAddressesMatchTheirIpv4Form) {
  observe::SocketIndex index;
  index.add(observe::socket_key(ep("[::ffff:127.0.0.1]:8443"), ep("[::ffff:127.0.0.2]:40000")),
            owner(observe::SocketSide::client, "mapped.test", ""));
  auto found = index.find(observe::socket_key(ep("127.0.0.1:8443"), ep("127.0.0.2:40000")));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->server_name, "mapped.test");
}

TEST(RetransMetricsTest, CountsBySideNameAndBackend) {
  observe::RetransMetrics m;
  m.count(owner(observe::SocketSide::backend, "a.test", "10.0.0.2:443"));
  m.count(owner(observe::SocketSide::backend, "a.test", "10.0.0.2:443"));
  m.count(owner(observe::SocketSide::client, "b.test", "10.0.0.3:443"));
  m.count_unattributed();
  m.count_lost(4);
  const auto s = m.snapshot();
  EXPECT_EQ(s.by_side[0], 1u);
  EXPECT_EQ(s.by_side[1], 2u);
  ASSERT_EQ(s.by_server_name.size(), 2u);
  EXPECT_EQ(s.by_server_name[0], (std::pair<std::string, std::uint64_t>{"a.test", 2}));
  EXPECT_EQ(s.by_backend[1], (std::pair<std::string, std::uint64_t>{"10.0.0.3:443", 1}));
  EXPECT_EQ(s.unattributed, 1u);
  EXPECT_EQ(s.lost_events, 4u);
}

TEST(RetransMetricsTest, NamesPastTheBoundCountAsOther) {
  observe::RetransMetrics m;
  const std::size_t names = observe::RetransMetrics::kMaxLabelValues + 50;
  for (std::size_t i = 0; i < names; ++i)
    m.count(owner(observe::SocketSide::backend, fmt::format("n{}.test", i), "10.0.0.2:443"));
  m.count(
      owner(observe::SocketSide::backend, "n0.test", "10.0.0.2:443"));  // a known one still counts
  const auto s = m.snapshot();
  EXPECT_EQ(s.by_server_name.size(), observe::RetransMetrics::kMaxLabelValues + 1);
  std::uint64_t other = 0;
  std::uint64_t n0 = 0;
  for (const auto& [name, count] : s.by_server_name) {
    if (name == observe::RetransMetrics::kOther) other = count;
    if (name == "n0.test") n0 = count;
  }
  EXPECT_EQ(other, 50u);
  EXPECT_EQ(n0, 2u);
}

TEST(RetransMetricsTest, ExportedOnlyWhenOn) {
  observe::Metrics m(0);
  m.retransmits.count(owner(observe::SocketSide::backend, "a.test", "x"));
  observe::ExpositionContext ctx;
  EXPECT_EQ(observe::render_prometheus(m, ctx).find("retransmits"), std::string::npos);
  ctx.retrans = true;
  const std::string text = observe::render_prometheus(m, ctx);
  EXPECT_NE(text.find("sniproxy_retransmits_total{side=\"backend\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sniproxy_retransmits_by_server_name_total{server_name=\"a.test\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sniproxy::proxy
