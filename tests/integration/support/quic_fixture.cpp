#include "support/quic_fixture.hpp"

#include <fmt/format.h>

#include <span>
#include <thread>

namespace sniproxy::integration::quic_fixture {

Endpoint local_ip(std::uint8_t last_octet, std::uint16_t port) {
  return Endpoint{IpAddress::v4(127, 0, 0, last_octet), port};
}

Bytes initial_for(const std::string& name, const Bytes& dcid, std::uint64_t idle_ms) {
  InitialSpec spec;
  spec.dcid = dcid;
  spec.frames = crypto_frame(0, quic_client_hello(name, idle_ms));
  return padded_initial(spec);
}

std::pair<Bytes, Bytes> two_datagram_initials(const std::string& name, const Bytes& dcid) {
  const Bytes hello = quic_client_hello(name, 30'000, 3'000);
  const auto view = std::span<const std::uint8_t>(hello);
  InitialSpec spec;
  spec.dcid = dcid;
  spec.frames = crypto_frame(0, view.first(1'100));
  Bytes first = padded_initial(spec);
  spec.packet_number = 1;
  spec.frames = crypto_frame(1'100, view.subspan(1'100));
  return {std::move(first), padded_initial(spec)};
}

ConfigSpec QuicTest::quic_config(const std::string& quic_section, const std::string& quic_host) {
  ConfigSpec spec = base_config();
  port_ = spec.listeners[0].port;
  spec.listeners.push_back(ListenerSpec{
      .name = "quic", .port = port_, .protocol = "quic", .table = "default", .host = quic_host});
  spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_);
  if (!quic_section.empty()) spec.extra += "[quic]\n" + quic_section;
  return spec;
}

void QuicTest::add_routes(ConfigSpec& spec, const std::vector<RouteSpec>& routes) {
  auto& table = spec.table("default");
  table.insert(table.end(), routes.begin(), routes.end());
}

void QuicTest::start(ConfigSpec& spec, const std::vector<RouteSpec>& routes) {
  add_routes(spec, routes);
  start_proxy(spec, {admin_port_});
}

Scrape QuicTest::scrape() {
  HttpAnswer a = http_get(admin_port_, "/metrics");
  EXPECT_EQ(a.status, 200) << a.head;
  return parse_exposition(a.body);
}

bool QuicTest::metric_reaches(const std::string& key, double value) {
  const Deadline d = Deadline::in(milliseconds(5'000));
  while (!d.expired()) {
    if (metric(key) >= value) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

void QuicTest::open_session(const UdpPeer& client, const std::string& name, const Bytes& dcid,
                            const Endpoint& to) {
  ASSERT_TRUE(client.send_to(to, initial_for(name, dcid)));
  ASSERT_TRUE(client.receive(Deadline::in(milliseconds(3'000)))) << "no answer for " << name;
}

void QuicTest::expect_passed_and_answered(const UdpPeer& client, const Endpoint& to,
                                          const Bytes& datagram, const FakeQuicBackend& backend,
                                          std::size_t nth, Bytes& answer) {
  ASSERT_TRUE(client.send_to(to, datagram));
  ASSERT_TRUE(backend.wait_for(nth, Deadline::in(milliseconds(3'000))))
      << "datagram " << nth << " via " << to.to_string() << " did not reach the backend";
  EXPECT_EQ(backend.received()[nth - 1].bytes, datagram);
  auto reply = client.receive(Deadline::in(milliseconds(3'000)));
  ASSERT_TRUE(reply) << "no reply from " << to.to_string();
  EXPECT_EQ(reply->from, to);
  answer = std::move(reply->bytes);
}

}  // namespace sniproxy::integration::quic_fixture
