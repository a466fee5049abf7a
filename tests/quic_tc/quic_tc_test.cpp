// The QUIC fast path's classifier on a real network: client ns -- proxy ns
// -- backend ns (topology.hpp), the program attached in the proxy
// namespace, sessions added through bpf::QuicFastPath, traffic from plain
// UDP sockets. A datagram that arrives byte for byte at a socket whose
// kernel checked its checksum (senders have checksum offload off), and
// whose checksum a raw socket recomputes, proves the rewrite. Every wait is
// bounded; every test skips without root.
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "support/netns.hpp"
#include "support/proxy_process.hpp"
#include "support/temp_dir.hpp"
#include "topology.hpp"
#include "udp_io.hpp"

namespace sniproxy::quic_tc_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kArrival = 2000ms;  // a datagram that should arrive
constexpr milliseconds kSilence = 300ms;   // how long "nothing arrives" is watched

// Runs `fn` in namespace `ns`; false (with a failure) when it could not.
bool in_ns(const std::string& ns, const std::function<void()>& fn) {
  std::string error = integration::run_in(ns, fn);
  EXPECT_EQ(error, "");
  return error.empty();
}

// The sockets of one UDP session: the client, the proxy's listener and
// session socket (where the userspace path would read), the backend, and
// raw sockets beside the client and the backend.
struct Sockets {
  UniqueFd client, listener, session, backend, client_raw, backend_raw;
  Endpoint client_at, listener_at, session_at, backend_at;
};

class QuicTcTest : public ::testing::TestWithParam<Family> {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    topology_ = std::make_unique<Topology>();
    setup_error_ = topology_->setup();
    if (!setup_error_.empty()) return;
    std::string entered = integration::run_in(topology_->proxy_ns(), [] {
      client_ifindex_ = static_cast<int>(::if_nametoindex(topology_->proxy_client_if().c_str()));
      backend_ifindex_ = static_cast<int>(::if_nametoindex(topology_->proxy_backend_if().c_str()));
      bpf::QuicFastPathOptions options;
      options.interfaces = {topology_->proxy_client_if(), topology_->proxy_backend_if()};
      auto created = bpf::QuicFastPath::create(options);
      if (created.ok()) {
        fast_path_ = std::move(*created);
      } else {
        setup_error_ = created.error().message;
      }
    });
    if (!entered.empty()) setup_error_ = entered;
  }

  static void TearDownTestSuite() {
    fast_path_.reset();
    topology_.reset();
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, CAP_BPF): skipped";
    ASSERT_EQ(setup_error_, "");
    ASSERT_NE(fast_path_, nullptr);
  }

  Family family() const { return GetParam(); }

  // Opens the sockets of a session on fresh ports. `no_check`: the client
  // sends IPv4 datagrams without a UDP checksum.
  Sockets open_sockets(bool no_check = false) {
    static std::uint16_t next_port = 4400;
    const std::uint16_t listener_port = next_port++;
    const std::uint16_t backend_port = static_cast<std::uint16_t>(listener_port + 4000);
    Sockets s;
    in_ns(topology_->client_ns(), [&] {
      s.client = bound_udp_socket({Topology::client(family()), 0}, no_check);
      s.client_raw = raw_udp_socket(family());
    });
    in_ns(topology_->proxy_ns(), [&] {
      s.listener = bound_udp_socket({Topology::proxy_client_side(family()), listener_port});
      s.session = bound_udp_socket({Topology::proxy_backend_side(family()), 0});
    });
    in_ns(topology_->backend_ns(), [&] {
      s.backend = bound_udp_socket({Topology::backend(family()), backend_port});
      s.backend_raw = raw_udp_socket(family());
    });
    for (const UniqueFd* fd :
         {&s.client, &s.listener, &s.session, &s.backend, &s.client_raw, &s.backend_raw}) {
      EXPECT_TRUE(fd->valid()) << std::strerror(errno);
    }
    s.client_at = local_endpoint(s.client.get());
    s.listener_at = local_endpoint(s.listener.get());
    s.session_at = local_endpoint(s.session.get());
    s.backend_at = local_endpoint(s.backend.get());
    return s;
  }

  static bpf::FastPathSession session_of(const Sockets& s) {
    bpf::FastPathSession session;
    session.client_side = {s.client_at, s.listener_at};
    session.backend_side = {s.session_at, s.backend_at};
    session.client_ifindex = client_ifindex_;
    session.backend_ifindex = backend_ifindex_;
    return session;
  }

  static bpf::QuicFastPathCounters global_counters() {
    auto counters = fast_path_->counters();
    EXPECT_TRUE(counters.ok()) << counters.error().message;
    return counters.ok() ? *counters : bpf::QuicFastPathCounters{};
  }

  // Sends `bytes` from `from` to `to` and expects it at `at` from `expected_source`,
  // with a valid checksum on the wire (seen by `raw` beside `at`).
  void expect_forwarded(int from, const Endpoint& to, int at, int raw, const IpAddress& local,
                        const Endpoint& expected_source, const std::string& bytes) {
    ASSERT_TRUE(send_to(from, to, bytes)) << std::strerror(errno);
    auto got = receive(at, kArrival);
    ASSERT_TRUE(got.has_value()) << bytes.size() << " bytes never arrived";
    EXPECT_EQ(got->from.to_string(), expected_source.to_string());
    EXPECT_TRUE(got->bytes == bytes) << "the payload changed";
    auto wire = receive_wire(raw, local, local_endpoint(at).port, kArrival);
    ASSERT_TRUE(wire.has_value());
    EXPECT_EQ(wire->from.to_string(), expected_source.to_string());
    EXPECT_EQ(wire->payload_size, bytes.size());
    EXPECT_NE(wire->checksum, 0);
    EXPECT_TRUE(wire->checksum_valid) << "checksum 0x" << std::hex << wire->checksum;
  }

  static inline std::unique_ptr<Topology> topology_;
  static inline std::unique_ptr<bpf::QuicFastPath> fast_path_;
  static inline std::string setup_error_;
  static inline int client_ifindex_ = 0;
  static inline int backend_ifindex_ = 0;
};

TEST_P(QuicTcTest, ForwardsBothWaysWithRewrittenAddressesAndCounts) {
  Sockets s = open_sockets();
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  const auto start = Clock::now();
  const std::vector<std::size_t> requests = {1200, 1, 700, 1350, 64};
  const std::vector<std::size_t> replies = {1200, 33, 1000};
  std::uint64_t request_bytes = 0, reply_bytes = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    expect_forwarded(s.client.get(), s.listener_at, s.backend.get(), s.backend_raw.get(),
                     Topology::backend(family()), s.session_at,
                     pattern(requests[i], static_cast<std::uint32_t>(i)));
    request_bytes += requests[i];
  }
  for (std::size_t i = 0; i < replies.size(); ++i) {
    expect_forwarded(s.backend.get(), s.session_at, s.client.get(), s.client_raw.get(),
                     Topology::client(family()), s.listener_at,
                     pattern(replies[i], static_cast<std::uint32_t>(100 + i)));
    reply_bytes += replies[i];
  }
  // Userspace saw none of it.
  EXPECT_FALSE(receive(s.listener.get(), 0ms).has_value());
  EXPECT_FALSE(receive(s.session.get(), 0ms).has_value());

  auto counters = fast_path_->read_counters(*handle);
  ASSERT_TRUE(counters.ok()) << counters.error().message;
  EXPECT_EQ(counters->to_backend.packets, requests.size());
  EXPECT_EQ(counters->to_backend.bytes, request_bytes);
  EXPECT_EQ(counters->to_client.packets, replies.size());
  EXPECT_EQ(counters->to_client.bytes, reply_bytes);
  EXPECT_EQ(counters->to_backend.oversized, 0u);
  ASSERT_TRUE(counters->to_backend.last_seen.has_value());
  ASSERT_TRUE(counters->to_client.last_seen.has_value());
  // Coarse time lags the monotonic clock by up to a tick.
  EXPECT_GE(*counters->to_backend.last_seen, start - 20ms);
  EXPECT_LE(*counters->to_client.last_seen, Clock::now());

  std::this_thread::sleep_for(60ms);
  expect_forwarded(s.client.get(), s.listener_at, s.backend.get(), s.backend_raw.get(),
                   Topology::backend(family()), s.session_at, pattern(10, 7));
  auto later = fast_path_->read_counters(*handle);
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(later->to_backend.packets, requests.size() + 1);
  ASSERT_TRUE(later->to_backend.last_seen.has_value());
  EXPECT_GT(*later->to_backend.last_seen, *counters->to_backend.last_seen);
  EXPECT_EQ(later->to_client.last_seen, counters->to_client.last_seen);

  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

// With checksum offload on the sender (the default on veth), the packet
// arrives as CHECKSUM_PARTIAL: its field holds only the pseudo-header sum,
// which the rewrite must move to the new addresses (the rest is completed
// later, by a NIC or the stack). A receiving veth trusts such packets, so
// the field itself is checked.
TEST_P(QuicTcTest, OffloadedChecksumGetsTheNewPseudoHeader) {
  std::string error;
  ASSERT_TRUE(in_ns(topology_->client_ns(),
                    [&] { error = set_tx_checksum_offload(topology_->client_if(), true); }));
  ASSERT_EQ(error, "");
  Sockets s = open_sockets();
  auto handle = fast_path_->add_session(session_of(s));
  const std::string bytes = pattern(1200, 11);
  const bool sent = handle.ok() && send_to(s.client.get(), s.listener_at, bytes);
  auto got = receive(s.backend.get(), kArrival);
  auto wire =
      receive_wire(s.backend_raw.get(), Topology::backend(family()), s.backend_at.port, kArrival);
  in_ns(topology_->client_ns(),
        [&] { error = set_tx_checksum_offload(topology_->client_if(), false); });
  EXPECT_EQ(error, "");
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  ASSERT_TRUE(sent);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->from.to_string(), s.session_at.to_string());
  EXPECT_TRUE(got->bytes == bytes);
  ASSERT_TRUE(wire.has_value());
  // One's complement: 0 and 0xffff are the same sum.
  auto same_sum = [](std::uint16_t a, std::uint16_t b) {
    return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
  };
  EXPECT_TRUE(same_sum(wire->checksum, wire->pseudo_header_sum) || wire->checksum_valid)
      << "field 0x" << std::hex << wire->checksum << ", pseudo-header sum 0x"
      << wire->pseudo_header_sum;
  std::printf("offloaded: field 0x%04x, pseudo-header sum 0x%04x, complete checksum %s\n",
              wire->checksum, wire->pseudo_header_sum,
              wire->checksum_valid ? "valid" : "not valid");
  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

TEST_P(QuicTcTest, OversizedDatagramGoesToUserspaceAndIsCounted) {
  Sockets s = open_sockets();
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  const auto before = global_counters();
  ASSERT_EQ(integration::ip({"-n", topology_->proxy_ns(), "link", "set",
                             topology_->proxy_backend_if(), "mtu", "1280"}),
            "");
  const std::string big = pattern(1300, 5);  // over 1280 with either IP header, under 1500
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, big));
  auto got = receive(s.listener.get(), kArrival);
  EXPECT_EQ(integration::ip({"-n", topology_->proxy_ns(), "link", "set",
                             topology_->proxy_backend_if(), "mtu", "1500"}),
            "");
  ASSERT_TRUE(got.has_value()) << "the oversized datagram did not reach userspace";
  EXPECT_EQ(got->from.to_string(), s.client_at.to_string());  // untouched
  EXPECT_TRUE(got->bytes == big);
  EXPECT_FALSE(receive(s.backend.get(), kSilence).has_value());

  auto counters = fast_path_->read_counters(*handle);
  ASSERT_TRUE(counters.ok()) << counters.error().message;
  EXPECT_EQ(counters->to_backend.oversized, 1u);
  EXPECT_EQ(counters->to_backend.packets, 0u);
  EXPECT_EQ(global_counters().oversized, before.oversized + 1);

  // Back under the MTU, the same session takes the fast path again.
  expect_forwarded(s.client.get(), s.listener_at, s.backend.get(), s.backend_raw.get(),
                   Topology::backend(family()), s.session_at, big);
  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

TEST_P(QuicTcTest, FragmentedDatagramIsLeftToUserspace) {
  Sockets s = open_sockets();
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  const auto before = global_counters();
  const std::string big = pattern(3000, 8);  // the client's kernel fragments it (MTU 1500)
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, big));
  auto got = receive(s.listener.get(), kArrival);
  ASSERT_TRUE(got.has_value()) << "the reassembled datagram did not reach userspace";
  EXPECT_EQ(got->from.to_string(), s.client_at.to_string());
  EXPECT_TRUE(got->bytes == big);
  EXPECT_FALSE(receive(s.backend.get(), kSilence).has_value());
  EXPECT_GE(global_counters().fragments, before.fragments + 3);
  auto counters = fast_path_->read_counters(*handle);
  ASSERT_TRUE(counters.ok()) << counters.error().message;
  EXPECT_EQ(counters->to_backend.packets, 0u);
  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

// IPv4 options (three NOPs and an end) or an IPv6 destination options
// header (one PadN) on the client's datagrams: the program leaves them.
TEST_P(QuicTcTest, IpOptionsAreLeftToUserspace) {
  Sockets s = open_sockets();
  if (family() == Family::v4) {
    const std::uint8_t options[4] = {1, 1, 1, 0};
    ASSERT_EQ(::setsockopt(s.client.get(), IPPROTO_IP, IP_OPTIONS, options, sizeof(options)), 0)
        << std::strerror(errno);
  } else {
    const std::uint8_t header[8] = {0, 0, 1, 4, 0, 0, 0, 0};  // next, length, PadN of 4
    ASSERT_EQ(::setsockopt(s.client.get(), IPPROTO_IPV6, IPV6_DSTOPTS, header, sizeof(header)), 0)
        << std::strerror(errno);
  }
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  const auto before = global_counters();
  const std::string bytes = pattern(900, 12);
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, bytes));
  auto got = receive(s.listener.get(), kArrival);
  ASSERT_TRUE(got.has_value()) << "the datagram with options did not reach userspace";
  EXPECT_EQ(got->from.to_string(), s.client_at.to_string());
  EXPECT_TRUE(got->bytes == bytes);
  EXPECT_FALSE(receive(s.backend.get(), kSilence).has_value());
  EXPECT_EQ(global_counters().ip_options, before.ip_options + 1);
  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

TEST_P(QuicTcTest, MissReachesUserspaceUnchanged) {
  Sockets s = open_sockets();
  const auto before = global_counters();
  const std::string bytes = pattern(1200, 9);
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, bytes));
  auto got = receive(s.listener.get(), kArrival);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->from.to_string(), s.client_at.to_string());
  EXPECT_TRUE(got->bytes == bytes);
  EXPECT_FALSE(receive(s.backend.get(), kSilence).has_value());
  EXPECT_GE(global_counters().missed, before.missed + 1);
  EXPECT_EQ(global_counters().redirected, before.redirected);
}

TEST_P(QuicTcTest, RemovedSessionGoesToUserspaceAgain) {
  Sockets s = open_sockets();
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  expect_forwarded(s.client.get(), s.listener_at, s.backend.get(), s.backend_raw.get(),
                   Topology::backend(family()), s.session_at, pattern(500, 1));
  ASSERT_TRUE(fast_path_->remove_session(*handle).ok());
  EXPECT_EQ(fast_path_->sessions(), 0u);
  EXPECT_FALSE(fast_path_->read_counters(*handle).ok());

  const std::string request = pattern(600, 2);
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, request));
  auto at_listener = receive(s.listener.get(), kArrival);
  ASSERT_TRUE(at_listener.has_value());
  EXPECT_EQ(at_listener->from.to_string(), s.client_at.to_string());
  EXPECT_TRUE(at_listener->bytes == request);
  EXPECT_FALSE(receive(s.backend.get(), kSilence).has_value());

  const std::string reply = pattern(700, 3);
  ASSERT_TRUE(send_to(s.backend.get(), s.session_at, reply));
  auto at_session = receive(s.session.get(), kArrival);
  ASSERT_TRUE(at_session.has_value());
  EXPECT_EQ(at_session->from.to_string(), s.backend_at.to_string());
  EXPECT_TRUE(at_session->bytes == reply);
  EXPECT_FALSE(receive(s.client.get(), kSilence).has_value());
}

TEST_P(QuicTcTest, SecondSessionOnTheSameTupleIsRefused) {
  Sockets s = open_sockets();
  auto first = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = fast_path_->add_session(session_of(s));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another session"), std::string::npos)
      << second.error().message;
  // The first one is whole: both directions still forward.
  expect_forwarded(s.client.get(), s.listener_at, s.backend.get(), s.backend_raw.get(),
                   Topology::backend(family()), s.session_at, pattern(100, 4));
  expect_forwarded(s.backend.get(), s.session_at, s.client.get(), s.client_raw.get(),
                   Topology::client(family()), s.listener_at, pattern(100, 5));
  EXPECT_TRUE(fast_path_->remove_session(*first).ok());
}

// IPv4 only: an IPv6 UDP checksum is mandatory (RFC 8200 8.1).
class QuicTcIpv4Test : public QuicTcTest {};

TEST_P(QuicTcIpv4Test, DatagramWithoutChecksumKeepsNone) {
  Sockets s = open_sockets(/*no_check=*/true);
  auto handle = fast_path_->add_session(session_of(s));
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  const std::string bytes = pattern(1000, 6);
  ASSERT_TRUE(send_to(s.client.get(), s.listener_at, bytes));
  auto got = receive(s.backend.get(), kArrival);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->from.to_string(), s.session_at.to_string());
  EXPECT_TRUE(got->bytes == bytes);
  auto wire =
      receive_wire(s.backend_raw.get(), Topology::backend(family()), s.backend_at.port, kArrival);
  ASSERT_TRUE(wire.has_value());
  EXPECT_EQ(wire->checksum, 0) << "a datagram sent without a checksum got one";
  EXPECT_TRUE(fast_path_->remove_session(*handle).ok());
}

INSTANTIATE_TEST_SUITE_P(Families, QuicTcTest, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& info) {
                           return std::string(info.param == Family::v4 ? "ipv4" : "ipv6");
                         });
INSTANTIATE_TEST_SUITE_P(Families, QuicTcIpv4Test, ::testing::Values(Family::v4),
                         [](const auto&) { return std::string("ipv4"); });

}  // namespace
}  // namespace sniproxy::quic_tc_test
