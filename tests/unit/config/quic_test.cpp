// protocol = "quic" listeners and [quic]: the defaults, the bounds read and
// checked, and what a UDP listener and its routes cannot do, each refused at
// its file:line:col.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::errors_of;
using ::testing::HasSubstr;
using testing::must_load;

// A TLS and a QUIC listener on the same address and port, one table.
constexpr std::string_view kQuic = R"([[listener]]
address = "127.0.0.1:8443"
table = "t"

[[listener]]
name = "q"
address = "127.0.0.1:8443"
protocol = "quic"
table = "t"

[[tables.t]]
match = "a.example"
backend = "127.0.0.1:9443"
)";

TEST(QuicConfigTest, ListenerBesideTlsOnTheSameAddress) {
  const Config c = must_load(kQuic);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[1].protocol, Protocol::quic);
  EXPECT_EQ(c.listeners[1].name, "q");
  // Two quic listeners on one address are still one too many.
  EXPECT_THAT(errors_of(std::string(kQuic) + "[[listener]]\naddress = \"127.0.0.1:8443\"\n"
                                             "protocol = \"quic\"\ntable = \"t\"\n"),
              ElementsAre(AllOf(HasSubstr("t.toml:15:11:"), HasSubstr("duplicate listener"))));
}

TEST(QuicConfigTest, Defaults) {
  const Quic q = must_load(kQuic).quic;
  EXPECT_EQ(q.hello_timeout, Millis{10'000});
  EXPECT_EQ(q.max_pending_flows, 4'096u);
  EXPECT_EQ(q.max_pending_per_source, 64u);
  EXPECT_EQ(q.max_held_datagrams, 8u);
  EXPECT_EQ(q.max_held_bytes, 16'384u);
  EXPECT_EQ(q.max_hello_size, 16'384u);
  EXPECT_EQ(q.max_sessions, 65'536u);
  EXPECT_EQ(q.socket_buffer, 4u * 1024 * 1024);
  EXPECT_EQ(q.idle_timeout, Millis{30'000});
  EXPECT_EQ(q.max_idle_timeout, Millis{600'000});
  EXPECT_TRUE(q.version_negotiation);
}

TEST(QuicConfigTest, SectionRead) {
  const Quic q = must_load(R"([quic]
hello_timeout = "500ms"
max_pending_flows = 100
max_pending_per_source = 10
max_held_datagrams = 4
max_held_bytes = 8192
max_hello_size = 4096
max_sessions = 10
socket_buffer = 1048576
idle_timeout = "1s"
max_idle_timeout = "2s"
version_negotiation = false
)" + std::string(kQuic))
                     .quic;
  EXPECT_EQ(q.hello_timeout, Millis{500});
  EXPECT_EQ(q.max_pending_flows, 100u);
  EXPECT_EQ(q.max_pending_per_source, 10u);
  EXPECT_EQ(q.max_held_datagrams, 4u);
  EXPECT_EQ(q.max_held_bytes, 8192u);
  EXPECT_EQ(q.max_hello_size, 4096u);
  EXPECT_EQ(q.max_sessions, 10u);
  EXPECT_EQ(q.socket_buffer, 1'048'576u);
  EXPECT_EQ(q.idle_timeout, Millis{1'000});
  EXPECT_EQ(q.max_idle_timeout, Millis{2'000});
  EXPECT_FALSE(q.version_negotiation);
}

TEST(QuicConfigTest, SectionMistakesAreLocated) {
  EXPECT_THAT(errors_of("[quic]\nmax_held_bytes = 100\n" + std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:18:"), HasSubstr("max_held_bytes"))));
  EXPECT_THAT(
      errors_of("[quic]\nidle_timeout = \"5m\"\nmax_idle_timeout = \"1m\"\n" + std::string(kQuic)),
      ElementsAre(AllOf(HasSubstr("t.toml:3:20:"), HasSubstr("must not be greater"))));
  EXPECT_THAT(errors_of("[quic]\nmax_pending_flows = 10\nmax_pending_per_source = 20\n" +
                        std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:3:26:"), HasSubstr("max_pending_flows"))));
  EXPECT_THAT(errors_of("[quic]\nhello_timeout = \"0s\"\n" + std::string(kQuic)),
              ElementsAre(HasSubstr("t.toml:2:17:")));
  EXPECT_THAT(errors_of("[quic]\nsocket_buffer = 1000\n" + std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:17:"), HasSubstr("socket_buffer"),
                                HasSubstr("65536"))));
  EXPECT_THAT(errors_of("[quic]\nsocket_buffer = \"4M\"\n" + std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:17:"), HasSubstr("integer"))));
  EXPECT_THAT(errors_of("[quic]\nmax_session = 1\n" + std::string(kQuic)),
              ElementsAre(HasSubstr("did you mean 'max_sessions'")));
}

TEST(QuicConfigTest, FastPathNeedsItsInterfaces) {
  EXPECT_FALSE(must_load(kQuic).quic.fast_path);
  const Quic q =
      must_load("[quic]\nfast_path = true\nfast_path_interfaces = [\"veth0\", \"eth1\"]\n" +
                std::string(kQuic))
          .quic;
  EXPECT_TRUE(q.fast_path);
  EXPECT_THAT(q.fast_path_interfaces, ElementsAre("veth0", "eth1"));
  EXPECT_THAT(errors_of("[quic]\nfast_path = true\n" + std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:13:"), HasSubstr("fast_path_interfaces"))));
  EXPECT_THAT(
      errors_of("[quic]\nfast_path = true\nfast_path_interfaces = []\n" + std::string(kQuic)),
      ElementsAre(AllOf(HasSubstr("t.toml:3:24:"), HasSubstr("at least one interface"))));
  EXPECT_THAT(errors_of("[quic]\nfast_path_interfaces = [\"a\", \"a\"]\n" + std::string(kQuic)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:30:"), HasSubstr("listed twice"))));
  EXPECT_THAT(errors_of("[quic]\nfast_path_interfaces = [\"a/b\"]\n" + std::string(kQuic)),
              ElementsAre(HasSubstr("invalid interface name 'a/b'")));
}

std::string quic_listener_with(std::string_view extra) {
  return "[[listener]]\naddress = \"127.0.0.1:8443\"\nprotocol = \"quic\"\ntable = \"t\"\n" +
         std::string(extra) + "\n[[tables.t]]\nmatch = \"a.example\"\nbackend = \"127.0.0.1:1\"\n";
}

TEST(QuicConfigTest, TcpOnlyListenerKeysAreRefused) {
  EXPECT_THAT(errors_of(quic_listener_with("mode = \"splice\"")),
              ElementsAre(AllOf(HasSubstr("t.toml:5:8:"), HasSubstr("'mode' does not apply"))));
  EXPECT_THAT(errors_of(quic_listener_with("fast_open_queue = 16")),
              ElementsAre(AllOf(HasSubstr("t.toml:5:19:"), HasSubstr("fast_open_queue"))));
  EXPECT_THAT(errors_of(quic_listener_with("source_address = \"127.0.0.1\"")),
              ElementsAre(HasSubstr("'source_address' does not apply")));
  EXPECT_THAT(errors_of(quic_listener_with(
                  "proxy_protocol_in = \"v2\"\ntrusted_sources = [\"10.0.0.0/8\"]")),
              ElementsAre(HasSubstr("'proxy_protocol_in' does not apply"),
                          HasSubstr("'trusted_sources' does not apply")));
}

TEST(QuicConfigTest, WildcardAddressesAreAccepted) {
  // Replies name their source per datagram (IP_PKTINFO / IPV6_PKTINFO).
  for (const char* address : {"0.0.0.0:443", "[::]:443"})
    EXPECT_TRUE(errors_of(fmt::format("[[listener]]\naddress = \"{}\"\nprotocol = \"quic\"\n"
                                      "table = \"t\"\n[[tables.t]]\nmatch = \"a\"\n"
                                      "backend = \"127.0.0.1:1\"\n",
                                      address))
                    .empty())
        << address;
}

TEST(QuicConfigTest, AnIpv6WildcardIsV6OnlyBesideAnIpv4QuicListenerOnly) {
  // UDP and TCP ports are apart: a TLS listener on 0.0.0.0:8443 leaves the
  // quic [::]:8443 dual-stack; a quic 0.0.0.0:8444 makes [::]:8444 v6-only.
  Config c = must_load(
      "[[listener]]\naddress = \"0.0.0.0:8443\"\ntable = \"t\"\n"
      "[[listener]]\naddress = \"[::]:8443\"\nprotocol = \"quic\"\ntable = \"t\"\n"
      "[[listener]]\naddress = \"0.0.0.0:8444\"\nprotocol = \"quic\"\ntable = \"t\"\n"
      "[[listener]]\naddress = \"[::]:8444\"\nprotocol = \"quic\"\ntable = \"t\"\n"
      "[[tables.t]]\nmatch = \"a\"\nbackend = \"127.0.0.1:1\"\n");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_FALSE(c.listeners[1].v6only);
  EXPECT_TRUE(c.listeners[3].v6only);
}

TEST(QuicConfigTest, WhatADatagramCannotCarryIsRefused) {
  const std::string head =
      "[[listener]]\naddress = \"[::1]:443\"\nprotocol = \"quic\"\n"
      "table = \"t\"\n";
  // Resolve targets and DNS-named backends are resolved per flow.
  EXPECT_TRUE(errors_of(head + "[[tables.t]]\nmatch = \"a\"\nresolve = 443\n").empty());
  EXPECT_TRUE(errors_of(head + "fallback = \"b.example:443\"\n[[tables.t]]\nmatch = \"a\"\n"
                               "backend = \"c.example:443\"\n")
                  .empty());
  EXPECT_THAT(errors_of(head + "[[tables.t]]\nmatch = \"a\"\nbackend = \"127.0.0.1:1\"\n"
                               "proxy_protocol = \"v2\"\n"),
              ElementsAre(AllOf(HasSubstr("t.toml:5:1:"), HasSubstr("PROXY protocol"))));
  EXPECT_THAT(errors_of(head + "[[tables.t]]\nmatch = \"a\"\nbackend = \"127.0.0.1:1\"\n"
                               "fast_open = true\n"),
              ElementsAre(HasSubstr("'fast_open' is TCP only")));
  EXPECT_THAT(errors_of(head + "[[tables.t]]\nmatch = \"a\"\nbackend = \"127.0.0.1:1\"\n"
                               "source_address = \"::1\"\n"),
              ElementsAre(HasSubstr("'source_address' is not supported")));
  // A pool checked over TCP would be marked down by a UDP backend.
  const std::string pool = "[pools.p]\nservers = [{ backend = \"127.0.0.1:1\" }]\n";
  EXPECT_THAT(errors_of(head + "[[tables.t]]\nmatch = \"a\"\npool = \"p\"\n" + pool),
              ElementsAre(HasSubstr("check = \"none\"")));
  EXPECT_TRUE(errors_of(head + "[[tables.t]]\nmatch = \"a\"\npool = \"p\"\n" + pool +
                        "[pools.p.health]\ncheck = \"none\"\n")
                  .empty());
  // The same table under a TLS listener only is fine.
  EXPECT_TRUE(errors_of("[[listener]]\naddress = \"[::1]:443\"\ntable = \"t\"\n"
                        "[[tables.t]]\nmatch = \"a\"\nresolve = 443\n")
                  .empty());
}

// The master binds a quic listener's UDP socket and passes it to each
// worker generation as it does the TCP ones.
TEST(QuicConfigTest, MasterModeIsAccepted) {
  EXPECT_TRUE(errors_of("[process]\nmaster = true\n" + std::string(kQuic)).empty());
}

}  // namespace
}  // namespace sniproxy::config
