// The real sniproxy with [quic] fast_path = true, in the middle namespace
// of the fast path topology (client ns -- proxy ns -- backend ns, see
// topology.hpp): a client sends a sealed Initial and short-header datagrams
// to the quic listener, a plain UDP socket in the backend namespace answers.
// Once the backend has answered, the datagrams both ways arrive rewritten
// (from the listener's address, from the session socket's) while the
// proxy's userspace counters stand still and the kernel's grow; a datagram
// over the egress MTU still arrives, through userspace; the idle end writes
// one access-log line with both paths' counts and removes the entries.
// Root and SNIPROXY_BIN; every wait bounded.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "quic_initial_builder.hpp"
#include "support/access_log.hpp"
#include "support/admin_client.hpp"
#include "support/netns.hpp"
#include "support/ngtcp2_peers.hpp"
#include "support/pattern.hpp"
#include "support/proxy_process.hpp"
#include "support/socket_io.hpp"
#include "support/temp_dir.hpp"
#include "support/udp_peer.hpp"
#include "topology.hpp"
#include "udp_io.hpp"

// Its own namespace: the suite's files share unity translation units.
namespace sniproxy::quic_fp_proxy_test {
namespace {

using namespace std::chrono_literals;
using integration::run_in;
using protocol::test::Bytes;
using quic_tc_test::bound_udp_socket;
using quic_tc_test::local_endpoint;
using quic_tc_test::milliseconds;
using quic_tc_test::pattern;
using quic_tc_test::receive;
using quic_tc_test::send_to;
using quic_tc_test::Topology;

constexpr milliseconds kArrival = 2000ms;
constexpr milliseconds kSilence = 300ms;
constexpr std::uint16_t kListenPort = 4433;
constexpr std::uint16_t kAdminPort = 9901;  // in the proxy's own namespace
constexpr int kShortDatagrams = 20;
const Bytes kServerCid{0x5e, 0x4f, 0x3d, 0x2c, 0x1b, 0x0a, 0x99, 0x88};

std::string text(const Bytes& b) {
  return {b.begin(), b.end()};
}

std::string endpoint_text(const Endpoint& e) {
  return e.ip.family == Family::v4 ? fmt::format("{}:{}", e.ip.to_string(), e.port)
                                   : fmt::format("[{}]:{}", e.ip.to_string(), e.port);
}

// A Handshake-type long header with the server's connection ID as its
// SCID (what the proxy learns from), padded: the backend's answer.
std::string backend_answer() {
  Bytes p{0xe0, 0, 0, 0, 1, 4, 1, 2, 3, 4, static_cast<std::uint8_t>(kServerCid.size())};
  p.insert(p.end(), kServerCid.begin(), kServerCid.end());
  p.resize(300, 0x42);
  return text(p);
}

class QuicFastPathProxyTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, CAP_BPF): skipped";
    if (integration::sniproxy_binary().empty()) GTEST_SKIP() << "SNIPROXY_BIN is not set";
    topology_ = std::make_unique<Topology>();
    ASSERT_EQ(topology_->setup(), "");
    family_ = GetParam();
    listener_ = Endpoint{Topology::proxy_client_side(family_), kListenPort};
    ASSERT_TRUE(run_in(topology_->client_ns(), [this] {
                  client_ = bound_udp_socket({Topology::client(family_), 0});
                }).empty());
    ASSERT_TRUE(run_in(topology_->backend_ns(), [this] {
                  backend_ = bound_udp_socket({Topology::backend(family_), 0});
                }).empty());
    ASSERT_TRUE(client_ && backend_);
    backend_at_ = local_endpoint(backend_.get());
  }

  void TearDown() override {
    proxy_.reset();  // before the namespaces go
    topology_.reset();
  }

  std::string config(const std::string& name = "fp.quic.test") const {
    return config_for(name, backend_at_);
  }
  std::string config_for(const std::string& name, const Endpoint& backend) const {
    std::string c = fmt::format(
        "[access_log]\npath = \"{}\"\nformat = \"text\"\n\n"
        "[admin]\nlisten = \"127.0.0.1:{}\"\n\n"
        // After the drop the session entries are still written and the
        // classifier detached at the end: what the proxy kept is enough.
        "[process]\nuser = \"nobody\"\ngroup = \"nogroup\"\n\n"
        "[quic]\nidle_timeout = \"1s\"\nmax_idle_timeout = \"1s\"\nfast_path = true\n"
        "fast_path_interfaces = [\"{}\", \"{}\"]\n\n",
        access_log().string(), kAdminPort, topology_->proxy_client_if(),
        topology_->proxy_backend_if());
    if (const char* reactor = std::getenv("SNIPROXY_TEST_REACTOR"))
      c += fmt::format("[reactor]\nbackend = \"{}\"\n\n", reactor);
    c += fmt::format(
        "[[listener]]\nname = \"quic\"\naddress = \"{}\"\nprotocol = \"quic\"\ntable = \"t\"\n\n"
        "[[tables.t]]\nmatch = \"{}\"\nbackend = \"{}\"\n",
        wildcard_ ? endpoint_text(Endpoint{IpAddress{.family = family_}, kListenPort})
                  : endpoint_text(listener_),
        name, endpoint_text(backend));
    return c;
  }

  void start_proxy() { start_proxy_with(config()); }
  void start_proxy_with(const std::string& text) {
    const auto path = dir_.file("proxy.toml");
    std::ofstream(path) << text;
    std::string error = "not started";
    ASSERT_TRUE(run_in(topology_->proxy_ns(), [&] {
                  proxy_ = std::make_unique<integration::ProxyProcess>(
                      integration::sniproxy_binary(), path, dir_.path());
                  error = proxy_->start({kAdminPort});
                }).empty());
    ASSERT_EQ(error, "");
  }

  [[nodiscard]] std::filesystem::path access_log() const { return dir_.file("access.log"); }

  // A metric sample of the proxy (scraped inside its namespace); -1 if none.
  double metric(const std::string& key) {
    double value = -1;
    EXPECT_TRUE(run_in(topology_->proxy_ns(), [&] {
                  auto answer = integration::http_get(kAdminPort, "/metrics");
                  value = integration::parse_exposition(answer.body).at(key);
                }).empty());
    return value;
  }
  bool metric_reaches(const std::string& key, double value) {
    for (int i = 0; i < 100; ++i) {
      if (metric(key) >= value) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  static std::string userspace_packets(const std::string& direction) {
    return "sniproxy_quic_packets_total{direction=\"" + direction + "\"}";
  }
  static std::string kernel_packets(const std::string& direction) {
    return "sniproxy_quic_fast_path_packets_total{direction=\"" + direction + "\"}";
  }

  // Client -> listener: the backend gets the same bytes from the session's
  // socket. Returns false (with a failure) when it did not.
  bool to_backend(const std::string& bytes) {
    if (!send_to(client_.get(), listener_, bytes)) return false;
    auto got = receive(backend_.get(), kArrival);
    EXPECT_TRUE(got.has_value()) << "a datagram of " << bytes.size() << " bytes was lost";
    if (!got) return false;
    EXPECT_EQ(got->bytes, bytes);
    EXPECT_EQ(got->from, session_at_) << "not from the session's socket";
    bytes_in_ += bytes.size();
    return got->bytes == bytes;
  }
  // Backend -> session socket: the client gets the same bytes from the
  // listener's address.
  bool to_client(const std::string& bytes) {
    if (!send_to(backend_.get(), session_at_, bytes)) return false;
    auto got = receive(client_.get(), kArrival);
    EXPECT_TRUE(got.has_value()) << "an answer of " << bytes.size() << " bytes was lost";
    if (!got) return false;
    EXPECT_EQ(got->bytes, bytes);
    EXPECT_EQ(got->from, listener_) << "not from the listener's address";
    bytes_out_ += bytes.size();
    return got->bytes == bytes;
  }

  // Starts the proxy, sends the hello and answers it: the session is in
  // the fast path when this returns.
  void establish() {
    ASSERT_NO_FATAL_FAILURE(start_proxy());
    ASSERT_TRUE(proxy_->wait_for_log("quic_fast_path", integration::Deadline::in(1000ms)))
        << proxy_->log();
    // The hello goes through userspace (it is read there), and so does the
    // backend's first answer: the session enters the fast path with it.
    protocol::test::InitialSpec spec;
    spec.dcid = {0xf0, 1, 2, 3, 4, 5, 6, 7};
    spec.frames =
        protocol::test::crypto_frame(0, protocol::test::quic_client_hello("fp.quic.test", 1'000));
    const std::string initial = text(protocol::test::padded_initial(spec));
    ASSERT_TRUE(send_to(client_.get(), listener_, initial));
    auto first = receive(backend_.get(), kArrival);
    ASSERT_TRUE(first.has_value()) << "the Initial did not reach the backend\n" << proxy_->log();
    EXPECT_EQ(first->bytes, initial);
    session_at_ = first->from;
    bytes_in_ += initial.size();
    ASSERT_TRUE(to_client(backend_answer()));
    ASSERT_TRUE(metric_reaches("sniproxy_quic_fast_path_sessions_total", 1)) << proxy_->log();
  }

  std::unique_ptr<Topology> topology_;
  Family family_ = Family::v4;
  // The listener binds 0.0.0.0 / [::] (the client still sends to listener_).
  bool wildcard_ = false;
  integration::TempDir dir_;
  UniqueFd client_, backend_;
  Endpoint listener_, backend_at_, session_at_;
  std::unique_ptr<integration::ProxyProcess> proxy_;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

TEST_P(QuicFastPathProxyTest, EstablishedSessionMovesInTheKernelBothWays) {
  ASSERT_NO_FATAL_FAILURE(establish());
  std::string status;
  ASSERT_TRUE(run_in(topology_->proxy_ns(), [&] {
                status = integration::http_get(kAdminPort, "/status").body;
              }).empty());
  EXPECT_NE(status.find("\"name\":\"quic_fast_path\",\"type\":\"sched_cls\""), std::string::npos)
      << status;
  EXPECT_NE(status.find(topology_->proxy_backend_if()), std::string::npos) << status;
  EXPECT_EQ(metric(userspace_packets("from_client")), 1);
  EXPECT_EQ(metric(userspace_packets("from_backend")), 1);

  // Short headers both ways, of varied sizes: none wakes the proxy.
  for (int i = 0; i < kShortDatagrams; ++i) {
    ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 40 + 61 * i))));
    ASSERT_TRUE(to_client(pattern(50 + 57 * i, static_cast<std::uint32_t>(i))));
  }
  EXPECT_EQ(metric(userspace_packets("from_client")), 1);
  EXPECT_EQ(metric(userspace_packets("from_backend")), 1);

  // Over the backend side's MTU: the program leaves it to userspace, and
  // the proxy's socket sends it on (fragmented by its kernel).
  ASSERT_EQ(integration::ip({"-n", topology_->proxy_ns(), "link", "set",
                             topology_->proxy_backend_if(), "mtu", "1280"}),
            "");
  ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 1400))));
  ASSERT_EQ(integration::ip({"-n", topology_->proxy_ns(), "link", "set",
                             topology_->proxy_backend_if(), "mtu", "1500"}),
            "");
  EXPECT_EQ(metric(userspace_packets("from_client")), 2);

  // No datagram for the idle timeout (1 s) on either path: the session
  // ends, with one line that counts both paths.
  auto entry = integration::wait_access_entry(access_log(), local_endpoint(client_.get()).port,
                                              integration::Deadline::in(5'000ms));
  ASSERT_TRUE(entry.has_value()) << proxy_->log();
  const auto& e = *entry;
  EXPECT_EQ(e.at("outcome"), "idle_timeout");
  EXPECT_EQ(e.at("server_name"), "fp.quic.test");
  EXPECT_EQ(e.at("bytes_in"), std::to_string(bytes_in_));
  EXPECT_EQ(e.at("bytes_out"), std::to_string(bytes_out_));
  EXPECT_EQ(e.at("packets_in"), std::to_string(kShortDatagrams + 2));
  EXPECT_EQ(e.at("packets_out"), std::to_string(kShortDatagrams + 1));
  EXPECT_EQ(e.at("fast_path_packets_in"), std::to_string(kShortDatagrams));
  EXPECT_EQ(e.at("fast_path_packets_out"), std::to_string(kShortDatagrams));
  EXPECT_EQ(metric(kernel_packets("from_client")), kShortDatagrams);
  EXPECT_EQ(metric(kernel_packets("from_backend")), kShortDatagrams);
  EXPECT_EQ(metric("sniproxy_quic_sessions"), 0);

  // The entries went with the session: a short header now reaches the
  // proxy (which has no session for it) and not the backend.
  ASSERT_TRUE(
      send_to(client_.get(), listener_, text(integration::short_header_packet(kServerCid, 100))));
  EXPECT_FALSE(receive(backend_.get(), kSilence).has_value());
  EXPECT_EQ(metric(userspace_packets("from_client")), 2);
  const std::string log = integration::read_file(access_log());
  EXPECT_EQ(integration::split_lines(log).size(), 1u) << log;
}

// The client's NAT rebinds (a new source port): its first datagram from
// there misses in the kernel, the proxy moves the session by its
// connection ID and replaces the entries; from then on both directions
// run in the kernel for the new address, and the line counts both pairs.
TEST_P(QuicFastPathProxyTest, NatRebindingReplacesTheEntries) {
  ASSERT_NO_FATAL_FAILURE(establish());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 100 + i))));
    ASSERT_TRUE(to_client(pattern(120 + i, static_cast<std::uint32_t>(i))));
  }
  UniqueFd old_client = std::move(client_);
  ASSERT_TRUE(run_in(topology_->client_ns(), [this] {
                client_ = bound_udp_socket({Topology::client(family_), 0});
              }).empty());
  ASSERT_TRUE(client_);
  ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 200))));
  EXPECT_EQ(metric(userspace_packets("from_client")), 2);  // the Initial, the rebinding
  ASSERT_TRUE(proxy_->wait_for_log("quic_rebind", integration::Deadline::in(1000ms)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(to_client(pattern(130 + i, static_cast<std::uint32_t>(10 + i))));
    ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 210 + i))));
  }
  EXPECT_EQ(metric(userspace_packets("from_client")), 2);
  EXPECT_EQ(metric(userspace_packets("from_backend")), 1);
  EXPECT_FALSE(receive(old_client.get(), kSilence).has_value());

  auto entry = integration::wait_access_entry(access_log(), local_endpoint(client_.get()).port,
                                              integration::Deadline::in(5'000ms));
  ASSERT_TRUE(entry.has_value()) << proxy_->log();
  EXPECT_EQ(entry->at("bytes_in"), std::to_string(bytes_in_));
  EXPECT_EQ(entry->at("bytes_out"), std::to_string(bytes_out_));
  EXPECT_EQ(entry->at("fast_path_packets_in"), "6");
  EXPECT_EQ(entry->at("fast_path_packets_out"), "6");
  EXPECT_EQ(metric("sniproxy_quic_fast_path_sessions_total"), 1);
}

// A wildcard listener (0.0.0.0, [::]): the session's entries name the
// address the client sent to, not the wildcard, so the kernel's replies
// leave from it (to_client checks the source) and the client's datagrams
// match; the line names it as local=.
TEST_P(QuicFastPathProxyTest, AWildcardListenerEntersWithTheAddressTheClientSentTo) {
  wildcard_ = true;
  ASSERT_NO_FATAL_FAILURE(establish());
  constexpr int kEach = 5;
  for (int i = 0; i < kEach; ++i) {
    ASSERT_TRUE(to_backend(text(integration::short_header_packet(kServerCid, 80 + i))));
    ASSERT_TRUE(to_client(pattern(90 + i, static_cast<std::uint32_t>(i))));
  }
  EXPECT_EQ(metric(userspace_packets("from_client")), 1);
  EXPECT_EQ(metric(userspace_packets("from_backend")), 1);
  auto entry = integration::wait_access_entry(access_log(), local_endpoint(client_.get()).port,
                                              integration::Deadline::in(5'000ms));
  ASSERT_TRUE(entry.has_value()) << proxy_->log();
  EXPECT_EQ(entry->at("local"), endpoint_text(listener_));
  EXPECT_EQ(entry->at("fast_path_packets_in"), std::to_string(kEach));
  EXPECT_EQ(entry->at("fast_path_packets_out"), std::to_string(kEach));
  EXPECT_EQ(entry->at("bytes_in"), std::to_string(bytes_in_));
  EXPECT_EQ(entry->at("bytes_out"), std::to_string(bytes_out_));
}

// A device that does not exist ends the start, naming it.
TEST_P(QuicFastPathProxyTest, AMissingDeviceEndsTheStart) {
  std::string text = config();
  const std::string listed = fmt::format("\"{}\"]", topology_->proxy_backend_if());
  text.replace(text.find(listed), listed.size(), "\"nosuchdev0\"]");
  const auto path = dir_.file("proxy.toml");
  std::ofstream(path) << text;
  integration::CommandResult got;
  ASSERT_TRUE(run_in(topology_->proxy_ns(), [&] {
                got = integration::run_command(integration::sniproxy_binary(),
                                               {"--config", path.string()}, dir_.path());
              }).empty());
  EXPECT_NE(got.exit_code, 0);
  EXPECT_NE(got.err.find("[quic] fast_path"), std::string::npos) << got.err;
  EXPECT_NE(got.err.find("nosuchdev0"), std::string::npos) << got.err;
}

// Optional: Debian's ngtcp2 example server in the backend namespace and
// client in the client namespace, a real handshake and a 1 MiB HTTP/3
// download through the proxy with the session in the fast path. Their
// client (0.12) sends the SNI "localhost" for a numeric host, so that name
// is routed. (A sender's UDP GSO batches are left to userspace by the
// program, so only part of the transfer may run in the kernel.)
TEST_P(QuicFastPathProxyTest, ARealHttp3DownloadRunsThroughTheFastPath) {
  if (!integration::ngtcp2_installed())
    GTEST_SKIP() << "ngtcp2-client and ngtcp2-server are not installed";
  ASSERT_EQ(integration::make_localhost_certificate(dir_.path()), "");
  for (const char* d : {"htdocs", "download", "h3server"})
    std::filesystem::create_directories(dir_.file(d));
  const std::string blob = integration::to_text(integration::pattern_bytes(24, 1 << 20));
  integration::write_file(dir_.file("htdocs") / "blob", blob);
  const Endpoint server_at{Topology::backend(family_), 4434};
  const auto script = integration::write_h3_server_script(dir_.path(), dir_.file("htdocs"),
                                                          server_at.ip.to_string(), server_at.port);
  std::unique_ptr<integration::ProxyProcess> server;
  ASSERT_TRUE(run_in(topology_->backend_ns(), [&] {
                server = std::make_unique<integration::ProxyProcess>(
                    script.string(), dir_.file("unused.toml"), dir_.file("h3server"));
                EXPECT_EQ(server->start({}), "");
              }).empty());
  ASSERT_NO_FATAL_FAILURE(start_proxy_with(config_for("localhost", server_at)));
  integration::CommandResult got;
  ASSERT_TRUE(run_in(topology_->client_ns(), [&] {
                got = integration::run_command(
                    integration::kNgtcp2Client,
                    {"-q", "--exit-on-all-streams-close",
                     "--download=" + dir_.file("download").string(), listener_.ip.to_string(),
                     std::to_string(listener_.port), "https://localhost/blob"},
                    dir_.path(), milliseconds(20'000));
              }).empty());
  EXPECT_EQ(got.exit_code, 0) << got.err << got.out << proxy_->log();
  EXPECT_EQ(integration::read_file(dir_.file("download") / "blob"), blob);
  EXPECT_EQ(metric("sniproxy_quic_fast_path_sessions_total"), 1) << proxy_->log();
  // The session ends idle (1 s); then the kernel's share is counted.
  ASSERT_TRUE(metric_reaches("sniproxy_quic_sessions_total", 1));
  for (int i = 0; i < 150 && metric("sniproxy_quic_sessions") != 0; ++i)
    std::this_thread::sleep_for(20ms);
  // The download in the kernel: here all of it but the first answer
  // (1200 bytes); at least half, allowing for GSO batches elsewhere.
  EXPECT_GT(metric(kernel_packets("from_client")), 0);
  EXPECT_GE(metric("sniproxy_quic_fast_path_bytes_total{direction=\"from_backend\"}"), 1 << 19);
  EXPECT_GE(metric("sniproxy_quic_fast_path_bytes_total{direction=\"from_backend\"}") +
                metric("sniproxy_quic_bytes_total{direction=\"from_backend\"}"),
            1 << 20);
}

INSTANTIATE_TEST_SUITE_P(Families, QuicFastPathProxyTest, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& info) { return info.param == Family::v4 ? "v4" : "v6"; });

}  // namespace
}  // namespace sniproxy::quic_fp_proxy_test
