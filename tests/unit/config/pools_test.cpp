// [pools.NAME]: every key lands, the defaults hold, routes and fallbacks
// name pools, and each mistake is reported at its FILE:LINE:COL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "config/names.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::errors_of;
using testing::kMinimal;
using testing::must_load;

constexpr std::string_view kPools = R"(
[timeouts]
connect = "3s"

[pools.web]
balance = "least_conn"
connect_timeout = "1s"
retries = 4
proxy_protocol = "v2"
slow_start = "30s"
servers = [
  { backend = "10.0.0.1:443" },
  { backend = "10.0.0.2:443", weight = 2 },
  { backend = "10.0.0.3:443", backup = true },
  { backend = "[2001:db8::1]:8443", weight = 256, backup = false },
]

[pools.web.health]
check = "tls_hello"
server_name = "A.Example.com"
interval = "5s"
timeout = "2s"
rise = 1
fall = 7

[pools.api]
[[pools.api.servers]]
backend = "10.0.1.1:8443"
)";

TEST(PoolsTest, EveryKeyLands) {
  const Config c = must_load(std::string(kMinimal) + std::string(kPools));
  ASSERT_EQ(c.pools.size(), 2u);
  const Pool& web = c.pools.at("web");
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.balance, Balance::least_conn);
  EXPECT_EQ(web.connect_timeout, 1s);
  EXPECT_EQ(web.retries, 4u);
  EXPECT_EQ(web.proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(web.slow_start, 30s);
  EXPECT_EQ(web.where.line, 13u);
  ASSERT_EQ(web.servers.size(), 4u);
  EXPECT_EQ(web.servers[0].host, "10.0.0.1");
  EXPECT_EQ(web.servers[0].port, 443);
  EXPECT_EQ(web.servers[0].weight, 1u);
  EXPECT_FALSE(web.servers[0].backup);
  EXPECT_EQ(web.servers[0].where.line, 20u);
  EXPECT_EQ(web.servers[1].weight, 2u);
  EXPECT_EQ(web.servers[2].host, "10.0.0.3");
  EXPECT_TRUE(web.servers[2].backup);
  EXPECT_EQ(web.servers[3].host, "2001:db8::1");
  EXPECT_EQ(web.servers[3].port, 8443);
  EXPECT_EQ(web.servers[3].weight, 256u);
  EXPECT_EQ(web.health.check, HealthCheckKind::tls_hello);
  EXPECT_EQ(web.health.server_name, "a.example.com");
  EXPECT_EQ(web.health.interval, 5s);
  EXPECT_EQ(web.health.timeout, 2s);
  EXPECT_EQ(web.health.rise, 1u);
  EXPECT_EQ(web.health.fall, 7u);
}

TEST(PoolsTest, Defaults) {
  const Config c = must_load(std::string(kMinimal) + std::string(kPools));
  const Pool& api = c.pools.at("api");
  EXPECT_EQ(api.balance, Balance::round_robin);
  EXPECT_EQ(api.connect_timeout, 3s);  // [timeouts] connect
  EXPECT_EQ(api.retries, 2u);
  EXPECT_EQ(api.proxy_protocol, ProxyProtocol::none);
  EXPECT_EQ(api.slow_start, 0s);
  ASSERT_EQ(api.servers.size(), 1u);
  EXPECT_EQ(api.servers[0].host, "10.0.1.1");
  EXPECT_EQ(api.servers[0].weight, 1u);
  EXPECT_FALSE(api.servers[0].backup);
  EXPECT_EQ(api.health, HealthCheck{});
  EXPECT_EQ(api.health.check, HealthCheckKind::tcp);
  EXPECT_EQ(api.health.interval, 2s);
  EXPECT_EQ(api.health.timeout, 1s);
  EXPECT_EQ(api.health.rise, 2u);
  EXPECT_EQ(api.health.fall, 3u);
  // Without [timeouts] connect, its default.
  const Config d =
      must_load(std::string(kMinimal) + "[pools.p]\nservers = [ { backend = \"10.0.0.1:1\" } ]\n");
  EXPECT_EQ(d.pools.at("p").connect_timeout, Timeouts{}.connect);
}

TEST(PoolsTest, CheckNoneTakesIntervalAndFall) {
  const Config c = must_load(std::string(kMinimal) + R"(
[pools.p]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.p.health]
check = "none"
interval = "10s"
fall = 1
)");
  const HealthCheck& h = c.pools.at("p").health;
  EXPECT_EQ(h.check, HealthCheckKind::none);
  EXPECT_EQ(h.interval, 10s);
  EXPECT_EQ(h.fall, 1u);
}

TEST(PoolsTest, RoutesAndFallbacksNamePools) {
  const Config c = must_load(R"(
[[listener]]
address = "127.0.0.1:8443"
table = "t"
fallback = "pool:api"

[[listener]]
address = "127.0.0.1:8444"
table = "t"
fallback = "pool:web"
fallback_proxy_protocol = "v1"

[[tables.t]]
match = "a.example"
pool = "web"

[[tables.t]]
match = "b.example"
pool = "web"
proxy_protocol = "v1"

[[tables.t]]
match = "c.example"
pool = "api"

[pools.web]
proxy_protocol = "v2"
servers = [ { backend = "10.0.0.1:443" } ]

[pools.api]
servers = [ { backend = "10.0.0.2:443" } ]
)");
  const auto& routes = c.tables.at("t").routes;
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].target.kind, Target::Kind::pool);
  EXPECT_EQ(routes[0].target.pool, "web");
  EXPECT_EQ(describe(routes[0].target), "pool:web");
  // The pool's proxy_protocol, unless the route has its own.
  EXPECT_EQ(routes[0].target.proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(routes[1].target.proxy_protocol, ProxyProtocol::v1);
  EXPECT_EQ(routes[2].target.proxy_protocol, ProxyProtocol::none);
  ASSERT_TRUE(c.listeners[0].fallback.has_value());
  EXPECT_EQ(c.listeners[0].fallback->kind, Target::Kind::pool);
  EXPECT_EQ(c.listeners[0].fallback->pool, "api");
  EXPECT_EQ(c.listeners[1].fallback->proxy_protocol, ProxyProtocol::v1);
  EXPECT_EQ(to_string(Balance::hash_source), "hash_source");
  EXPECT_EQ(to_string(HealthCheckKind::tls_hello), "tls_hello");
}

// The lines under test start at line 1; a valid listener and table follow.
std::vector<std::string> pool_errors(std::string_view lines) {
  return errors_of(std::string(lines) +
                   "[[listener]]\naddress = \"127.0.0.1:1\"\ntable = \"t\"\n"
                   "[[tables.t]]\nmatch = \"zz.example\"\ndeny = true\n");
}

TEST(PoolsErrorsTest, PoolKeys) {
  EXPECT_THAT(pool_errors(R"([pools.web]
balance = "round-robin"
connect_timeout = "0s"
retries = 33
proxy_protocol = "v3"
slow_start = 30
servers = [ { backend = "10.0.0.1:1" } ]
weight = 2
)"),
              ElementsAre("t.toml:2:11: invalid value 'round-robin' for 'balance': expected one "
                          "of round_robin, least_conn, random_two, hash_source, hash_name; did "
                          "you mean 'round_robin'?",
                          "t.toml:3:19: 'connect_timeout' must be greater than 0",
                          "t.toml:4:11: 'retries' must be from 0 to 32, got 33",
                          "t.toml:5:18: invalid value 'v3' for 'proxy_protocol': expected one of "
                          "v1, v2; did you mean 'v1'?",
                          "t.toml:6:14: expected a duration string for 'slow_start', got an "
                          "integer: a bare number has no unit; write e.g. \"30s\" or \"30ms\"",
                          "t.toml:8:1: unknown key 'weight' in [pools.web]"));
}

TEST(PoolsErrorsTest, Servers) {
  EXPECT_THAT(pool_errors(R"([pools.a]
balance = "random_two"
[pools.b]
servers = []
[pools.c]
servers = "10.0.0.1:1"
[pools.d]
servers = [
  { backend = "10.0.0.1" },
  { backend = "10.0.0.1:1", weight = 0 },
  { backend = "10.0.0.1:1", weight = 257, backup = "yes" },
  { backend = "host.example:1" },
  { backend = "HOST.example.:1" },
  { backend = "[::1]:1" },
  { backend = "[0::1]:1" },
  { weight = 2 },
  { backend = "10.0.0.2:1", priority = 1 },
  "10.0.0.3:1",
]
)"),
              ElementsAre("t.toml:1:1: missing required key 'servers' in [pools.a]",
                          "t.toml:4:11: pool 'b' needs at least one server",
                          "t.toml:6:11: expected an array of server tables for 'servers', got a "
                          "string",
                          "t.toml:9:15: invalid backend '10.0.0.1': expected HOST:PORT or "
                          "[IPV6]:PORT with a port from 1 to 65535",
                          "t.toml:10:38: 'weight' must be from 1 to 256, got 0",
                          "t.toml:11:38: 'weight' must be from 1 to 256, got 257",
                          "t.toml:11:52: expected a boolean (true or false) for 'backup', got a "
                          "string",
                          "t.toml:13:15: duplicate server 'host.example:1' in pool 'd' (first "
                          "defined at line 12)",
                          "t.toml:15:15: duplicate server '[::1]:1' in pool 'd' (first defined at "
                          "line 14)",
                          "t.toml:16:3: missing required key 'backend' in [[pools.d.servers]]",
                          "t.toml:17:29: unknown key 'priority' in [[pools.d.servers]]",
                          "t.toml:18:3: expected a table for each server of pool 'd', got a "
                          "string (write { backend = \"HOST:PORT\" })"));
}

TEST(PoolsErrorsTest, Health) {
  EXPECT_THAT(pool_errors(R"([pools.a]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.a.health]
check = "http"
rise = 0
fall = 101
interval = "1s"
timeout = "2s"
[pools.b]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.b.health]
check = "tls_hello"
[pools.c]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.c.health]
server_name = "a.example"
[pools.d]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.d.health]
check = "none"
timeout = "1s"
rise = 2
[pools.e]
servers = [ { backend = "10.0.0.1:1" } ]
health = { check = "tls_hello", server_name = "bad name", intervall = "1s" }
)"),
              ElementsAre("t.toml:4:9: invalid value 'http' for 'check': expected one of tcp, "
                          "tls_hello, none; did you mean 'tcp'?",
                          "t.toml:5:8: 'rise' must be from 1 to 100, got 0",
                          "t.toml:6:8: 'fall' must be from 1 to 100, got 101",
                          "t.toml:8:11: 'timeout' (2000ms) must not be greater than 'interval' "
                          "(1000ms): a check ends before the next one starts",
                          "t.toml:12:9: check = \"tls_hello\" needs a 'server_name' to ask for",
                          "t.toml:16:15: 'server_name' has no effect with check = \"tcp\"; it "
                          "applies to check = \"tls_hello\" only",
                          "t.toml:21:11: 'timeout' has no effect with check = \"none\" (a down "
                          "server is tried again after 'interval'); remove it",
                          "t.toml:22:8: 'rise' has no effect with check = \"none\" (a down server "
                          "is tried again after 'interval'); remove it",
                          "t.toml:25:47: invalid server_name 'bad name': expected a DNS name",
                          "t.toml:25:59: unknown key 'intervall' in [pools.e.health]; did you "
                          "mean 'interval'?"));
}

TEST(PoolsErrorsTest, PoolsMustBeTables) {
  EXPECT_THAT(pool_errors("pools = 3\n"),
              ElementsAre("t.toml:1:9: expected a table for 'pools', got an integer"));
  EXPECT_THAT(pool_errors("[pools]\nweb = \"10.0.0.1:1\"\n"),
              ElementsAre("t.toml:2:7: expected a table for pool 'web', got a string (write it "
                          "as [pools.web])"));
}

TEST(PoolsErrorsTest, UnknownPoolsAreReportedWhereNamed) {
  EXPECT_THAT(errors_of(R"([[listener]]
address = "127.0.0.1:1"
table = "t"
fallback = "pool:wbe"
[[listener]]
address = "127.0.0.1:2"
table = "t"
fallback = "pool:"
[[tables.t]]
match = "a.example"
pool = "webb"
[[tables.t]]
match = "b.example"
pool = "zzz"
[[tables.t]]
match = "c.example"
pool = "web"
backend = "10.0.0.1:1"
[[tables.t]]
match = "d.example"
pool = 1
[pools.web]
servers = [ { backend = "10.0.0.1:1" } ]
[pools.api]
servers = [ { backend = "10.0.0.1:1" } ]
)"),
              ElementsAre("t.toml:4:12: no pool 'wbe'; did you mean 'web'?",
                          "t.toml:8:12: invalid fallback 'pool:': expected pool:NAME with a "
                          "pool's name",
                          "t.toml:11:8: no pool 'webb'; did you mean 'web'?",
                          "t.toml:14:8: no pool 'zzz'; defined pools: api, web",
                          "t.toml:18:11: 'backend' conflicts with 'pool': a route has exactly "
                          "one of 'backend', 'resolve', 'pool' or 'deny'",
                          "t.toml:21:8: expected a string for 'pool', got an integer"));
  EXPECT_THAT(pool_errors("[[tables.u]]\nmatch = \"a.example\"\npool = \"web\"\n"),
              ElementsAre("t.toml:3:8: no pool 'web'; no [pools.NAME] are defined"));
}

TEST(PoolsErrorsTest, APoolWithErrorsGivesNoSecondErrorWhereNamed) {
  EXPECT_THAT(pool_errors("[pools.web]\nbalance = 1\n[[tables.u]]\nmatch = \"a.example\"\n"
                          "pool = \"web\"\n"),
              ElementsAre("t.toml:1:1: missing required key 'servers' in [pools.web]",
                          "t.toml:2:11: expected a string for 'balance', got an integer"));
}

TEST(PoolsTest, ADnsNamedServerIsNormalisedAsARoutesBackendIs) {
  const Config c = must_load(std::string(kMinimal) +
                             "[pools.p]\nservers = [{ backend = \"Web.Internal.:443\" }, "
                             "{ backend = \"10.0.0.1:443\" }]\n");
  const Pool& p = c.pools.at("p");
  ASSERT_EQ(p.servers.size(), 2u);
  EXPECT_EQ(p.servers[0].host, "web.internal");
  EXPECT_EQ(p.servers[0].port, 443);
  EXPECT_EQ(p.servers[1].host, "10.0.0.1");
}

TEST(PoolsErrorsTest, AnInvalidHostNameIsReportedWhereWritten) {
  EXPECT_THAT(
      errors_of(std::string(kMinimal) + "[pools.p]\nservers = [{ backend = \"bad_name!:443\" }]\n"),
      ::testing::ElementsAre(::testing::HasSubstr(
          "invalid backend 'bad_name!:443': 'bad_name!' is neither an IP address nor a "
          "valid host name")));
}

}  // namespace
}  // namespace sniproxy::config
