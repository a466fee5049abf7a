#pragma once
// The QUIC listener suites' fixture: a TLS listener (the readiness probe's)
// and a quic listener on the same port, the admin endpoint, client Initials
// sealed by the test-side builder, and metric helpers.
#include <fmt/format.h>

#include <thread>

#include "quic_initial_builder.hpp"
#include "support/admin_client.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"
#include "support/udp_peer.hpp"

namespace sniproxy::integration::quic_fixture {

using protocol::test::crypto_frame;
using protocol::test::InitialSpec;
using protocol::test::padded_initial;
using protocol::test::quic_client_hello;

inline const Bytes kServerA = {0x5a, 0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
inline const Bytes kServerB = {0x5b, 0x5b, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};

inline Endpoint local_ip(std::uint8_t last_octet, std::uint16_t port = 0) {
  return Endpoint{IpAddress::v4(127, 0, 0, last_octet), port};
}

// A client Initial with the whole hello for `name` in one datagram.
inline Bytes initial_for(const std::string& name, const Bytes& dcid,
                         std::uint64_t idle_ms = 30'000) {
  InitialSpec spec;
  spec.dcid = dcid;
  spec.frames = crypto_frame(0, quic_client_hello(name, idle_ms));
  return padded_initial(spec);
}

// A hello too big for one datagram (a post-quantum key share), as the two
// Initials a client sends for it.
inline std::pair<Bytes, Bytes> two_datagram_initials(const std::string& name, const Bytes& dcid) {
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

class QuicTest : public ProxyTest {
 protected:
  std::uint16_t admin_port_ = free_port();
  std::uint16_t port_ = 0;  // the TLS and the QUIC listener's (TCP and UDP)

  // A TLS listener (the fixture's readiness probe connects to it) and a
  // QUIC listener on the same address and port.
  ConfigSpec quic_config(const std::string& quic_section = "") {
    ConfigSpec spec = base_config();
    port_ = spec.listeners[0].port;
    spec.listeners.push_back(
        ListenerSpec{.name = "quic", .port = port_, .protocol = "quic", .table = "default"});
    spec.extra += fmt::format("[admin]\nlisten = \"127.0.0.1:{}\"\n", admin_port_);
    if (!quic_section.empty()) spec.extra += "[quic]\n" + quic_section;
    return spec;
  }
  void start(ConfigSpec& spec, const std::vector<RouteSpec>& routes) {
    auto& table = spec.table("default");
    table.insert(table.end(), routes.begin(), routes.end());
    start_proxy(spec, {admin_port_});
  }
  [[nodiscard]] Endpoint listener() const { return local_ip(1, port_); }
  Scrape scrape() {
    HttpAnswer a = http_get(admin_port_, "/metrics");
    EXPECT_EQ(a.status, 200) << a.head;
    return parse_exposition(a.body);
  }
  double metric(const std::string& key) { return scrape().at(key); }
  // Waits (bounded) until `key` reaches `value`.
  bool metric_reaches(const std::string& key, double value) {
    const Deadline d = Deadline::in(milliseconds(5'000));
    while (!d.expired()) {
      if (metric(key) >= value) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }
  // Sends `name`'s Initial from `client` and waits for the backend's answer
  // (its connection ID is learnt then).
  void open_session(const UdpPeer& client, const std::string& name, const Bytes& dcid,
                    const Endpoint& to) {
    ASSERT_TRUE(client.send_to(to, initial_for(name, dcid)));
    ASSERT_TRUE(client.receive(Deadline::in(milliseconds(3'000)))) << "no answer for " << name;
  }
  void open_session(const UdpPeer& client, const std::string& name, const Bytes& dcid) {
    open_session(client, name, dcid, listener());
  }
  static std::string drops(const std::string& reason) {
    return "sniproxy_quic_drops_total{reason=\"" + reason + "\"}";
  }
  static std::string hellos(const std::string& outcome) {
    return "sniproxy_quic_hellos_total{outcome=\"" + outcome + "\"}";
  }
};

}  // namespace sniproxy::integration::quic_fixture
