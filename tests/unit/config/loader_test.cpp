// A valid config: every key lands in the typed Config, every default holds.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using namespace std::chrono_literals;
using testing::kMinimal;
using testing::must_load;

constexpr std::string_view kFull = R"(workers = 8
log_level = "debug"

[timeouts]
hello = "250ms"
connect = "3s"
idle = "2m"
shutdown = "1h"

[limits]
max_connections = 1000
max_connections_per_source = 20
max_hello_size = 4096

[dns]
servers = ["127.0.0.53:53", "1.1.1.1", "[::1]:5353", "::2", "[::3]"]
prefer = "ipv6-only"
negative_ttl = "0s"
min_ttl = "10s"
max_ttl = "10m"
timeout = "500ms"
cache_size = 77

[access_log]
path = "/var/log/sniproxy/access.log"
format = "json"

[forwarding]
mode = "copy"
buffer_size = 16384
buffers_per_worker = 1024

[[listener]]
name = "https"
address = "[::]:443"
protocol = "tls"
table = "default"
fallback = "10.0.0.9:8443"
fallback_proxy_protocol = "v2"
source_address = "2001:db8::1"
mode = "copy"

[[listener]]
address = "127.0.0.1:80"
protocol = "http"
table = "other"
fallback = "resolve:8080"

[[listener]]
address = "127.0.0.1:81"
table = "other"
fallback = "deny"

[[tables.default]]
match = "WWW.Example.com."
backend = "10.0.0.1:443"
proxy_protocol = "v1"

[[tables.default]]
match = "*.Apps.example.com"
backend = "[2001:db8::5]:8443"
proxy_protocol = "v2"

[[tables.default]]
match = '~^api[0-9]+\.example\.com$'
backend = "Backend.Internal:443"
allow_private = true

[[tables.default]]
match = "*.open.example"
resolve = 443
allow_private = false

[[tables.default]]
match = "blocked.example.com"
deny = true

[tables]
other = [ { match = "x.example", resolve = 8443 } ]
)";

TEST(LoaderTest, FullConfigSetsEveryKey) {
  const Config c = must_load(kFull);
  EXPECT_EQ(c.file, "t.toml");
  EXPECT_EQ(c.workers, 8u);
  EXPECT_EQ(c.log_level, "debug");

  EXPECT_EQ(c.timeouts.hello, 250ms);
  EXPECT_EQ(c.timeouts.connect, 3s);
  EXPECT_EQ(c.timeouts.idle, 2min);
  EXPECT_EQ(c.timeouts.shutdown, 1h);

  EXPECT_EQ(c.limits.max_connections, 1000u);
  EXPECT_EQ(c.limits.max_connections_per_source, 20u);
  EXPECT_EQ(c.limits.max_hello_size, 4096u);

  ASSERT_EQ(c.dns.servers.size(), 5u);
  EXPECT_EQ(c.dns.servers[0].to_string(), "127.0.0.53:53");
  EXPECT_EQ(c.dns.servers[1].to_string(), "1.1.1.1:53");
  EXPECT_EQ(c.dns.servers[2].to_string(), "[::1]:5353");
  EXPECT_EQ(c.dns.servers[3].to_string(), "[::2]:53");
  EXPECT_EQ(c.dns.servers[4].to_string(), "[::3]:53");
  EXPECT_EQ(c.dns.prefer, AddressPreference::ipv6_only);
  EXPECT_EQ(c.dns.negative_ttl, 0ms);
  EXPECT_EQ(c.dns.min_ttl, 10s);
  EXPECT_EQ(c.dns.max_ttl, 10min);
  EXPECT_EQ(c.dns.timeout, 500ms);
  EXPECT_EQ(c.dns.cache_size, 77u);

  EXPECT_EQ(c.access_log.path, "/var/log/sniproxy/access.log");
  EXPECT_EQ(c.access_log.format, LogFormat::json);

  EXPECT_EQ(c.forwarding.mode, ForwardingMode::copy);
  EXPECT_EQ(c.forwarding.buffer_size, 16384u);
  EXPECT_EQ(c.forwarding.buffers_per_worker, 1024u);

  ASSERT_EQ(c.listeners.size(), 3u);
  const Listener& https = c.listeners[0];
  EXPECT_EQ(https.name, "https");
  EXPECT_EQ(https.address.to_string(), "[::]:443");
  EXPECT_EQ(https.protocol, Protocol::tls);
  EXPECT_EQ(https.table, "default");
  ASSERT_TRUE(https.fallback.has_value());
  EXPECT_EQ(https.fallback->kind, Target::Kind::backend);
  EXPECT_EQ(https.fallback->host, "10.0.0.9");
  EXPECT_EQ(https.fallback->port, 8443);
  EXPECT_EQ(https.fallback->proxy_protocol, ProxyProtocol::v2);
  ASSERT_TRUE(https.source.has_value());
  EXPECT_FALSE(https.source->client);
  EXPECT_EQ(https.source->ip.to_string(), "2001:db8::1");
  EXPECT_EQ(https.mode, ForwardingMode::copy);
  EXPECT_EQ(https.where.file, "t.toml");
  EXPECT_EQ(https.where.line, 33u);
  EXPECT_EQ(https.where.column, 1u);

  const Listener& http = c.listeners[1];
  EXPECT_EQ(http.name, "127.0.0.1:80");  // defaults to the address text
  EXPECT_EQ(http.protocol, Protocol::http);
  EXPECT_EQ(http.table, "other");
  ASSERT_TRUE(http.fallback.has_value());
  EXPECT_EQ(http.fallback->kind, Target::Kind::resolve);
  EXPECT_EQ(http.fallback->port, 8080);
  EXPECT_EQ(http.fallback->proxy_protocol, ProxyProtocol::none);
  EXPECT_FALSE(http.source.has_value());
  EXPECT_FALSE(http.mode.has_value());
  EXPECT_EQ(http.where.line, 43u);

  ASSERT_TRUE(c.listeners[2].fallback.has_value());
  EXPECT_EQ(c.listeners[2].fallback->kind, Target::Kind::deny);

  ASSERT_EQ(c.tables.size(), 2u);
  const RouteTable& t = c.tables.at("default");
  EXPECT_EQ(t.name, "default");
  ASSERT_EQ(t.routes.size(), 5u);

  const Route& exact = t.routes[0];
  EXPECT_EQ(exact.pattern, "WWW.Example.com.");
  EXPECT_EQ(exact.kind, PatternKind::exact);
  EXPECT_EQ(exact.key, "www.example.com");
  EXPECT_EQ(exact.target.kind, Target::Kind::backend);
  EXPECT_EQ(exact.target.host, "10.0.0.1");
  EXPECT_EQ(exact.target.port, 443);
  EXPECT_EQ(exact.target.proxy_protocol, ProxyProtocol::v1);
  EXPECT_FALSE(exact.target.allow_private);
  EXPECT_EQ(exact.where.file, "t.toml");
  EXPECT_EQ(exact.where.line, 54u);
  EXPECT_EQ(exact.where.column, 1u);

  const Route& wildcard = t.routes[1];
  EXPECT_EQ(wildcard.kind, PatternKind::wildcard);
  EXPECT_EQ(wildcard.key, ".apps.example.com");
  EXPECT_EQ(wildcard.target.host, "2001:db8::5");
  EXPECT_EQ(wildcard.target.port, 8443);
  EXPECT_EQ(wildcard.target.proxy_protocol, ProxyProtocol::v2);

  const Route& regex = t.routes[2];
  EXPECT_EQ(regex.kind, PatternKind::regex);
  EXPECT_EQ(regex.pattern, R"(~^api[0-9]+\.example\.com$)");
  EXPECT_EQ(regex.key, R"(^api[0-9]+\.example\.com$)");
  EXPECT_EQ(regex.target.host, "backend.internal");
  EXPECT_TRUE(regex.target.allow_private);

  const Route& resolve = t.routes[3];
  EXPECT_EQ(resolve.target.kind, Target::Kind::resolve);
  EXPECT_EQ(resolve.target.port, 443);
  EXPECT_FALSE(resolve.target.allow_private);

  EXPECT_EQ(t.routes[4].target.kind, Target::Kind::deny);

  const RouteTable& other = c.tables.at("other");
  ASSERT_EQ(other.routes.size(), 1u);
  EXPECT_EQ(other.routes[0].key, "x.example");
  EXPECT_EQ(other.routes[0].target.kind, Target::Kind::resolve);
  EXPECT_EQ(other.routes[0].target.port, 8443);
  EXPECT_EQ(other.routes[0].where.line, 79u);
  EXPECT_EQ(other.routes[0].where.column, 11u);
}

TEST(LoaderTest, DefaultsMatchConfigHpp) {
  const Config c = must_load(kMinimal);
  const Config d;  // the documented defaults
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.timeouts.hello, 10s);
  EXPECT_EQ(c.timeouts.connect, 5s);
  EXPECT_EQ(c.timeouts.idle, 5min);
  EXPECT_EQ(c.timeouts.shutdown, 30s);
  EXPECT_EQ(c.limits.max_connections, 50'000u);
  EXPECT_EQ(c.limits.max_connections_per_source, 0u);
  EXPECT_EQ(c.limits.max_hello_size, 65'536u);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.prefer, AddressPreference::ipv4_first);
  EXPECT_EQ(c.dns.negative_ttl, 5s);
  EXPECT_EQ(c.dns.min_ttl, 1s);
  EXPECT_EQ(c.dns.max_ttl, 1h);
  EXPECT_EQ(c.dns.timeout, 2s);
  EXPECT_EQ(c.dns.cache_size, 10'000u);
  EXPECT_EQ(c.access_log.path, "stderr");
  EXPECT_EQ(c.access_log.format, LogFormat::text);
  EXPECT_EQ(c.forwarding.mode, ForwardingMode::copy);
  EXPECT_EQ(c.forwarding.buffer_size, 65'536u);
  EXPECT_EQ(c.forwarding.buffers_per_worker, 512u);
  EXPECT_EQ(c.forwarding.sockmap_queue_cap, 4u * 1024 * 1024);
  EXPECT_EQ(c.forwarding.sockmap_connections, 32'768u);
  EXPECT_FALSE(c.forwarding.auto_sockmap);
  EXPECT_EQ(c.forwarding.buffer_size, d.forwarding.buffer_size);

  ASSERT_EQ(c.listeners.size(), 1u);
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.name, "127.0.0.1:8443");
  EXPECT_EQ(l.protocol, Protocol::tls);
  EXPECT_FALSE(l.fallback.has_value());
  EXPECT_FALSE(l.source.has_value());
  EXPECT_FALSE(l.mode.has_value());

  const Route& r = c.tables.at("t").routes.at(0);
  EXPECT_EQ(r.target.proxy_protocol, ProxyProtocol::none);
  EXPECT_FALSE(r.target.allow_private);
}

TEST(LoaderTest, AccessLogSpecialPathsAndRelativePaths) {
  for (std::string_view path : {"stderr", "stdout", "off", "logs/access.log"}) {
    const Config c =
        must_load(std::string(kMinimal) + "[access_log]\npath = \"" + std::string(path) + "\"\n");
    EXPECT_EQ(c.access_log.path, path);
  }
}

TEST(LoaderTest, DurationUnitsAndLimits) {
  const Config c = must_load(std::string(kMinimal) +
                             "[timeouts]\nhello = \"1ms\"\nconnect = \"59s\"\nidle = \"168h\"\n"
                             "shutdown = \"10080m\"\n");
  EXPECT_EQ(c.timeouts.hello, 1ms);
  EXPECT_EQ(c.timeouts.connect, 59s);
  EXPECT_EQ(c.timeouts.idle, 168h);
  EXPECT_EQ(c.timeouts.shutdown, 168h);
}

TEST(LoaderTest, RangeEdgesAreAccepted) {
  const Config low = must_load(std::string(kMinimal) +
                               "[limits]\nmax_connections = 1\nmax_hello_size = 512\n"
                               "[forwarding]\nbuffer_size = 4096\nbuffers_per_worker = 16\n"
                               "[dns]\ncache_size = 1\nmin_ttl = \"5s\"\nmax_ttl = \"5s\"\n");
  EXPECT_EQ(low.limits.max_connections, 1u);
  EXPECT_EQ(low.limits.max_hello_size, 512u);
  EXPECT_EQ(low.forwarding.buffer_size, 4096u);
  EXPECT_EQ(low.forwarding.buffers_per_worker, 16u);
  EXPECT_EQ(low.dns.cache_size, 1u);
  const Config high =
      must_load("workers = 1024\n" + std::string(kMinimal) +
                "[limits]\nmax_connections = 10000000\n"
                "max_hello_size = 16777216\n"
                "[forwarding]\nbuffer_size = 4194304\nbuffers_per_worker = 32768\n");
  EXPECT_EQ(high.workers, 1024u);
  EXPECT_EQ(high.limits.max_connections, 10'000'000u);
  EXPECT_EQ(high.limits.max_hello_size, 16u * 1024 * 1024);
  EXPECT_EQ(high.forwarding.buffer_size, 4u * 1024 * 1024);
  EXPECT_EQ(high.forwarding.buffers_per_worker, 32768u);
}

TEST(LoaderTest, SockmapModeAndLimits) {
  const Config c = must_load(std::string(kMinimal) +
                             "[forwarding]\nmode = \"sockmap\"\nsockmap_queue_cap = 65536\n"
                             "sockmap_connections = 4000000\n");
  EXPECT_EQ(c.forwarding.mode, ForwardingMode::sockmap);
  EXPECT_EQ(c.forwarding.sockmap_queue_cap, 65'536u);
  EXPECT_EQ(c.forwarding.sockmap_connections, 4'000'000u);
}

TEST(LoaderTest, AutoMayOptInToSockmap) {
  const Config c =
      must_load(std::string(kMinimal) + "[forwarding]\nmode = \"auto\"\nauto_sockmap = true\n");
  EXPECT_EQ(c.forwarding.mode, ForwardingMode::automatic);
  EXPECT_TRUE(c.forwarding.auto_sockmap);
}

TEST(LoaderTest, UnreferencedTableIsNotAnError) {
  const Config c =
      must_load(std::string(kMinimal) + "[[tables.spare]]\nmatch = \"b.example\"\ndeny = true\n");
  EXPECT_EQ(c.tables.size(), 2u);
}

TEST(LoaderTest, EmptyTableIsAllowed) {
  const Config c = must_load(R"(
[[listener]]
address = "127.0.0.1:1"
table = "none"
fallback = "127.0.0.1:2"
[tables]
none = []
)");
  EXPECT_TRUE(c.tables.at("none").routes.empty());
}

TEST(LoaderTest, SameNameInDifferentTablesAndKindsIsNotADuplicate) {
  const Config c = must_load(std::string(kMinimal) + R"(
[[tables.t]]
match = "*.a.example"
deny = true
[[tables.t]]
match = "~a.example"
deny = true
[[tables.u]]
match = "a.example"
deny = true
)");
  EXPECT_EQ(c.tables.at("t").routes.size(), 3u);
}

TEST(LoaderTest, SameAddressOnDifferentPortsOrFamilies) {
  const Config c = must_load(R"(
[[listener]]
address = "0.0.0.0:443"
table = "t"
[[listener]]
address = "[::]:443"
table = "t"
[[listener]]
address = "0.0.0.0:444"
table = "t"
[tables]
t = []
)");
  EXPECT_EQ(c.listeners.size(), 3u);
}

}  // namespace
}  // namespace sniproxy::config
