#pragma once
// The QUIC suites' fixture: a TLS listener (the readiness probe's) and a
// quic listener on the same port, the admin endpoint, client Initials
// sealed by the test-side builder, and metric helpers.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "quic_initial_builder.hpp"
#include "support/admin_client.hpp"
#include "support/pattern.hpp"
#include "support/proxy_fixture.hpp"
#include "support/udp_peer.hpp"

namespace sniproxy::integration::quic_fixture {

// The builder's names, for the suites that seal Initials of their own.
using protocol::test::crypto_frame;
using protocol::test::InitialSpec;
using protocol::test::padded_initial;
using protocol::test::quic_client_hello;

inline const Bytes kServerA = {0x5a, 0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
inline const Bytes kServerB = {0x5b, 0x5b, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};

Endpoint local_ip(std::uint8_t last_octet, std::uint16_t port = 0);

// A client Initial with the whole hello for `name` in one datagram.
Bytes initial_for(const std::string& name, const Bytes& dcid, std::uint64_t idle_ms = 30'000);

// A hello too big for one datagram (a post-quantum key share), as the two
// Initials a client sends for it.
std::pair<Bytes, Bytes> two_datagram_initials(const std::string& name, const Bytes& dcid);

class QuicTest : public ProxyTest {
 protected:
  std::uint16_t admin_port_ = free_port();
  std::uint16_t port_ = 0;  // the TLS and the QUIC listener's (TCP and UDP)
  // Where the clients send: a wildcard listener is reached at an address
  // of the box's choosing, not the one its host resolves to.
  IpAddress sent_to_ = IpAddress::v4(127, 0, 0, 1);

  // A TLS listener (the fixture's readiness probe connects to it) and a
  // QUIC listener on `quic_host` ("0.0.0.0": a wildcard) and the same port.
  ConfigSpec quic_config(const std::string& quic_section = "",
                         const std::string& quic_host = "127.0.0.1");
  static void add_routes(ConfigSpec& spec, const std::vector<RouteSpec>& routes);
  void start(ConfigSpec& spec, const std::vector<RouteSpec>& routes);
  [[nodiscard]] Endpoint listener() const { return Endpoint{sent_to_, port_}; }
  Scrape scrape();
  double metric(const std::string& key) { return scrape().at(key); }
  // Waits (bounded) until `key` reaches `value`.
  bool metric_reaches(const std::string& key, double value);
  // Sends `name`'s Initial from `client` and waits for the backend's answer
  // (its connection ID is learnt then).
  void open_session(const UdpPeer& client, const std::string& name, const Bytes& dcid,
                    const Endpoint& to);
  void open_session(const UdpPeer& client, const std::string& name, const Bytes& dcid) {
    open_session(client, name, dcid, listener());
  }
  // `client` sends `datagram` to `to`: it reaches `backend` unchanged as
  // its `nth` datagram, and an answer comes back from `to` (into `answer`).
  void expect_passed_and_answered(const UdpPeer& client, const Endpoint& to, const Bytes& datagram,
                                  const FakeQuicBackend& backend, std::size_t nth, Bytes& answer);
  static std::string drops(const std::string& reason) {
    return "sniproxy_quic_drops_total{reason=\"" + reason + "\"}";
  }
  static std::string hellos(const std::string& outcome) {
    return "sniproxy_quic_hellos_total{outcome=\"" + outcome + "\"}";
  }
};

}  // namespace sniproxy::integration::quic_fixture
