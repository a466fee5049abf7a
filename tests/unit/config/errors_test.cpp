// Every kind of config mistake, with its exact FILE:LINE:COL: message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;

// A valid listener and table, appended after the lines under test so that
// those start at line 1 (at the top level).
constexpr std::string_view kTail =
    "[[listener]]\n"
    "address = \"127.0.0.1:1\"\n"
    "table = \"t\"\n"
    "[[tables.t]]\n"
    "match = \"zz.example\"\n"
    "deny = true\n";

std::vector<std::string> errors_with(std::string_view lines) {
  return errors_of(std::string(lines) + std::string(kTail));
}

// --- TOML syntax ----------------------------------------------------------

TEST(ConfigErrorsTest, TomlSyntaxErrorIsTheOnlyErrorAndIsLocated) {
  EXPECT_THAT(errors_of("workers = 1\nlog_level = \n"),
              ElementsAre("t.toml:2:13: Error while parsing key-value pair: expected value, saw "
                          "'\\n'"));
  EXPECT_THAT(errors_of("[a]\nx = 1\n[a]\n"),
              ElementsAre("t.toml:3:1: Error while parsing table header: cannot redefine existing "
                          "table 'a'"));
}

// --- unknown keys ---------------------------------------------------------

TEST(ConfigErrorsTest, UnknownKeysEverywhereWithSuggestions) {
  EXPECT_THAT(errors_with("worker = 2\n"),
              ElementsAre("t.toml:1:1: unknown key 'worker' at the top level; did you mean "
                          "'workers'?"));
  EXPECT_THAT(errors_with("[dns]\ntimout = \"1s\"\n"),
              ElementsAre("t.toml:2:1: unknown key 'timout' in [dns]; did you mean 'timeout'?"));
  EXPECT_THAT(errors_with("[timeouts]\nread = \"1s\"\n"),
              ElementsAre("t.toml:2:1: unknown key 'read' in [timeouts]"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"127.0.0.1:1\"\ntable = \"t\"\nprotocl = "
                        "\"tls\"\n[tables]\nt = []\n"),
              ElementsAre("t.toml:4:1: unknown key 'protocl' in [[listener]]; did you mean "
                          "'protocol'?"));
  EXPECT_THAT(errors_with("[[tables.u]]\nmatch = \"a.b\"\ndeny = true\nweight = 3\n"),
              ElementsAre("t.toml:4:1: unknown key 'weight' in [[tables.u]]"));
  // Inline tables and dotted keys are located at the key too.
  EXPECT_THAT(errors_with("limits.max_conections = 5\n[tables]\n"
                          "u = [ { match = \"a.b\", deny = true, x = 1 } ]\n"),
              ElementsAre("t.toml:1:8: unknown key 'max_conections' in [limits]; did you mean "
                          "'max_connections'?",
                          "t.toml:3:37: unknown key 'x' in [[tables.u]]"));
}

// --- types ----------------------------------------------------------------

TEST(ConfigErrorsTest, WrongTypesAreReportedAtTheValue) {
  EXPECT_THAT(errors_with("workers = \"4\"\n"),
              ElementsAre("t.toml:1:11: expected an integer for 'workers', got a string"));
  EXPECT_THAT(errors_with("log_level = 1.5\n"),
              ElementsAre("t.toml:1:13: expected a string for 'log_level', got a floating-point "
                          "number"));
  EXPECT_THAT(errors_with("timeouts = \"5s\"\n"),
              ElementsAre("t.toml:1:12: expected a table for 'timeouts', got a string"));
  EXPECT_THAT(errors_with("[dns]\nservers = \"1.1.1.1\"\n"),
              ElementsAre("t.toml:2:11: expected an array of strings for 'servers', got a string"));
  EXPECT_THAT(errors_with("[dns]\nservers = [\"1.1.1.1\", 53]\n"),
              ElementsAre("t.toml:2:23: expected a string for each entry of 'servers', got an "
                          "integer"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = 8443\ntable = \"t\"\n[tables]\nt = []\n"),
              ElementsAre("t.toml:2:11: expected a string for 'address', got an integer"));
}

// --- numbers and durations ------------------------------------------------

TEST(ConfigErrorsTest, IntegersOutOfRange) {
  EXPECT_THAT(errors_with("workers = 1025\n"),
              ElementsAre("t.toml:1:11: 'workers' must be from 0 to 1024, got 1025"));
  EXPECT_THAT(errors_with("[limits]\nmax_connections = 0\nmax_hello_size = 100\n"),
              ElementsAre("t.toml:2:19: 'max_connections' must be from 1 to 10000000, got 0",
                          "t.toml:3:18: 'max_hello_size' must be from 512 to 16777216, got 100"));
  EXPECT_THAT(errors_with("[dns]\ncache_size = 0\n"),
              ElementsAre("t.toml:2:14: 'cache_size' must be from 1 to 10000000, got 0"));
}

TEST(ConfigErrorsTest, SockmapLimitsInRange) {
  EXPECT_THAT(errors_with("[forwarding]\nsockmap_queue_cap = 1000\nsockmap_connections = 0\n"),
              ElementsAre("t.toml:2:21: 'sockmap_queue_cap' must be from 65536 to 17179869184, "
                          "got 1000",
                          "t.toml:3:23: 'sockmap_connections' must be from 1 to 4000000, got 0"));
}

TEST(ConfigErrorsTest, AutoSockmapIsABoolean) {
  EXPECT_THAT(errors_with("[forwarding]\nauto_sockmap = \"yes\"\n"),
              ElementsAre("t.toml:2:16: expected a boolean (true or false) for 'auto_sockmap', "
                          "got a string"));
}

TEST(ConfigErrorsTest, BuffersMustBePowersOfTwoInRange) {
  EXPECT_THAT(errors_with("[forwarding]\nbuffer_size = 5000\nbuffers_per_worker = 65536\n"),
              ElementsAre("t.toml:2:15: 'buffer_size' must be a power of two, got 5000",
                          "t.toml:3:22: 'buffers_per_worker' must be from 16 to 32768, got 65536"));
}

TEST(ConfigErrorsTest, Durations) {
  EXPECT_THAT(errors_with("[timeouts]\nhello = 5000\n"),
              ElementsAre("t.toml:2:9: expected a duration string for 'hello', got an integer: a "
                          "bare number has no unit; write e.g. \"5000s\" or \"5000ms\""));
  EXPECT_THAT(errors_with("[timeouts]\nconnect = \"5 s\"\nidle = \"1.5m\"\n"),
              ElementsAre("t.toml:2:11: invalid duration '5 s' for 'connect': expected an integer "
                          "followed by a unit (ms, s, m or h), e.g. \"5s\"",
                          "t.toml:3:8: invalid duration '1.5m' for 'idle': expected an integer "
                          "followed by a unit (ms, s, m or h), e.g. \"5s\""));
  EXPECT_THAT(errors_with("[timeouts]\nshutdown = \"0s\"\n"),
              ElementsAre("t.toml:2:12: 'shutdown' must be greater than 0"));
  EXPECT_THAT(errors_with("[timeouts]\nidle = \"169h\"\n"),
              ElementsAre("t.toml:2:8: invalid duration '169h' for 'idle': longer than the "
                          "maximum of 168h (7 days)"));
  EXPECT_THAT(errors_with("[dns]\nmin_ttl = \"2m\"\nmax_ttl = \"1m\"\n"),
              ElementsAre("t.toml:3:11: 'min_ttl' (120000ms) must not be greater than 'max_ttl' "
                          "(60000ms)"));
  // Against the default max_ttl (1h) the error is at min_ttl.
  EXPECT_THAT(errors_with("[dns]\nmin_ttl = \"2h\"\n"),
              ElementsAre("t.toml:2:11: 'min_ttl' (7200000ms) must not be greater than 'max_ttl' "
                          "(3600000ms)"));
}

// --- enumerations and strings ---------------------------------------------

TEST(ConfigErrorsTest, ChoicesListTheAcceptedValues) {
  EXPECT_THAT(errors_with("log_level = \"inf\"\n"),
              ElementsAre("t.toml:1:13: invalid value 'inf' for 'log_level': expected one of "
                          "debug, info, warn, error; did you mean 'info'?"));
  EXPECT_THAT(errors_with("[forwarding]\nmode = \"splise\"\n"),
              ElementsAre("t.toml:2:8: invalid value 'splise' for 'mode': expected one of auto, "
                          "copy, splice, sockmap; did you mean 'splice'?"));
  EXPECT_THAT(errors_with("[dns]\nprefer = \"ipv5\"\n"),
              ElementsAre("t.toml:2:10: invalid value 'ipv5' for 'prefer': expected one of ipv4, "
                          "ipv6, ipv4-only, ipv6-only; did you mean 'ipv4'?"));
  EXPECT_THAT(errors_with("[access_log]\nformat = \"xml\"\npath = \"\"\n"),
              ElementsAre("t.toml:2:10: invalid value 'xml' for 'format': expected one of text, "
                          "json",
                          "t.toml:3:8: 'path' must be stderr, stdout, off or a file path"));
}

TEST(ConfigErrorsTest, DnsServers) {
  EXPECT_THAT(errors_with("[dns]\nservers = [\"1.1.1.1:99999\", \"dns.google\", \"[1.2.3.4]\"]\n"),
              ElementsAre("t.toml:2:12: invalid DNS server '1.1.1.1:99999': expected IP, IP:PORT "
                          "or [IPV6]:PORT",
                          "t.toml:2:29: invalid DNS server 'dns.google': expected IP, IP:PORT or "
                          "[IPV6]:PORT",
                          "t.toml:2:43: invalid DNS server '[1.2.3.4]': expected IP, IP:PORT or "
                          "[IPV6]:PORT"));
}

// --- listeners ------------------------------------------------------------

TEST(ConfigErrorsTest, ListenersAreRequired) {
  EXPECT_THAT(errors_of("workers = 1\n"),
              ElementsAre("t.toml:1:1: no [[listener]] defined; at least one is required"));
  EXPECT_THAT(errors_of("listener = []\n"),
              ElementsAre("t.toml:1:12: at least one [[listener]] is required"));
  EXPECT_THAT(errors_of("[listener]\naddress = \"127.0.0.1:1\"\n"),
              ElementsAre("t.toml:1:1: expected an array of tables (write [[listener]]) for "
                          "'listener', got a table"));
  EXPECT_THAT(errors_of("listener = [1]\n"),
              ElementsAre("t.toml:1:13: expected a table for each [[listener]], got an integer"));
}

TEST(ConfigErrorsTest, ListenerAddressAndTable) {
  EXPECT_THAT(errors_of("[[listener]]\nprotocol = \"http\"\n[tables]\nt = []\n"),
              ElementsAre("t.toml:1:1: missing required key 'address' in [[listener]]",
                          "t.toml:1:1: missing required key 'table' in [[listener]]"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"localhost:443\"\ntable = \"t\"\n[tables]\nt = "
                        "[]\n"),
              ElementsAre("t.toml:2:11: invalid address 'localhost:443': expected IP:PORT or "
                          "[IPV6]:PORT (an IP literal, not a host name, and a port)"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"127.0.0.1\"\ntable = \"t\"\n[tables]\nt = []\n"),
              ElementsAre("t.toml:2:11: invalid address '127.0.0.1': expected IP:PORT or "
                          "[IPV6]:PORT (an IP literal, not a host name, and a port)"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"127.0.0.1:1\"\ntable = \"x\"\n[tables]\nb = []\n"
                        "a = []\n"),
              ElementsAre("t.toml:3:9: no table 'x'; defined tables: a, b"));
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"127.0.0.1:1\"\ntable = \"x\"\n"),
              ElementsAre("t.toml:3:9: no table 'x'; no [[tables.NAME]] routes are defined"));
}

TEST(ConfigErrorsTest, DuplicateListeners) {
  EXPECT_THAT(errors_of(R"([[listener]]
address = "127.0.0.1:1"
table = "t"
[[listener]]
address = "127.0.0.1:1"
table = "t"
[[listener]]
name = "web"
address = "[::1]:1"
table = "t"
[[listener]]
name = "web"
address = "[::1]:2"
table = "t"
[[listener]]
name = ""
address = "[::1]:3"
table = "t"
[tables]
t = []
)"),
              ElementsAre("t.toml:5:11: duplicate listener address 127.0.0.1:1 (first defined at "
                          "line 2)",
                          "t.toml:12:8: duplicate listener name 'web' (first defined at line 8)",
                          "t.toml:16:8: 'name' must not be empty"));
}

TEST(ConfigErrorsTest, ListenerFallbackSourceAndMode) {
  EXPECT_THAT(
      errors_of(R"([[listener]]
address = "127.0.0.1:1"
table = "t"
fallback = "resolve:0"
source_address = "localhost"
mode = "kernel"
protocol = "https"
[[listener]]
address = "127.0.0.1:2"
table = "t"
fallback_proxy_protocol = "v1"
[[listener]]
address = "127.0.0.1:3"
table = "t"
fallback = "deny"
fallback_proxy_protocol = "v1"
[[listener]]
address = "127.0.0.1:4"
table = "t"
fallback = "backend"
fallback_proxy_protocol = "v3"
[tables]
t = []
)"),
      ElementsAre("t.toml:4:12: invalid fallback 'resolve:0': expected resolve:PORT with a "
                  "port from 1 to 65535",
                  "t.toml:5:18: invalid source_address 'localhost': expected an IP address or "
                  "\"client\"",
                  "t.toml:6:8: invalid value 'kernel' for 'mode': expected one of auto, copy, "
                  "splice, sockmap",
                  "t.toml:7:12: invalid value 'https' for 'protocol': expected one of tls, "
                  "http, quic; did you mean 'http'?",
                  "t.toml:11:27: 'fallback_proxy_protocol' needs a 'fallback'",
                  "t.toml:16:27: 'fallback_proxy_protocol' has no effect with fallback = "
                  "\"deny\"; remove it",
                  "t.toml:20:12: invalid fallback 'backend': expected HOST:PORT or "
                  "[IPV6]:PORT with a port from 1 to 65535, \"resolve:PORT\", \"pool:NAME\" or "
                  "\"deny\"",
                  "t.toml:21:27: invalid value 'v3' for 'fallback_proxy_protocol': "
                  "expected one of v1, v2; did you mean 'v1'?"));
}

// --- route tables ---------------------------------------------------------

TEST(ConfigErrorsTest, TablesMustBeArraysOfRouteTables) {
  EXPECT_THAT(errors_of("[[listener]]\naddress = \"127.0.0.1:1\"\ntable = \"t\"\n[tables]\nt = "
                        "\"x\"\nu = [\"a\"]\n"),
              ElementsAre("t.toml:5:5: expected an array of routes for table 't', got a string "
                          "(write each route as [[tables.t]])",
                          "t.toml:6:6: expected a table for each route of table 'u', got a "
                          "string"));
}

TEST(ConfigErrorsTest, RouteTargets) {
  EXPECT_THAT(errors_with(R"([[tables.u]]
match = "a.example"
[[tables.u]]
match = "b.example"
backend = "127.0.0.1:1"
deny = true
[[tables.u]]
match = "c.example"
deny = false
[[tables.u]]
match = "d.example"
deny = true
proxy_protocol = "v1"
allow_private = true
[[tables.u]]
match = "e.example"
resolve = 70000
[[tables.u]]
backend = "127.0.0.1:1"
[[tables.u]]
match = "f.example"
resolve = "443"
allow_private = "yes"
proxy_protocol = "v9"
)"),
              ElementsAre("t.toml:1:1: a route needs one of 'backend', 'resolve', 'pool' or 'deny'",
                          "t.toml:6:8: 'deny' conflicts with 'backend': a route has exactly one "
                          "of 'backend', 'resolve', 'pool' or 'deny'",
                          "t.toml:9:8: 'deny' can only be true; remove it and give 'backend', "
                          "'resolve' or 'pool'",
                          "t.toml:13:18: 'proxy_protocol' has no effect on a deny route; remove it",
                          "t.toml:14:17: 'allow_private' has no effect on a deny route; remove it",
                          "t.toml:17:11: 'resolve' must be from 1 to 65535, got 70000",
                          "t.toml:18:1: missing required key 'match' in [[tables.u]]",
                          "t.toml:22:11: expected an integer for 'resolve', got a string",
                          "t.toml:23:17: expected a boolean (true or false) for 'allow_private', "
                          "got a string",
                          "t.toml:24:18: invalid value 'v9' for 'proxy_protocol': expected one of "
                          "v1, v2; did you mean 'v1'?"));
}

TEST(ConfigErrorsTest, BadBackends) {
  EXPECT_THAT(errors_with(R"([tables]
u = [
  { match = "a.example", backend = "10.0.0.1" },
  { match = "b.example", backend = "::1:443" },
  { match = "c.example", backend = "bad_host!:443" },
  { match = "d.example", backend = "10.0.0.300:443" },
  { match = "e.example", backend = "10.0.0.1:0" },
]
)"),
              ElementsAre("t.toml:3:36: invalid backend '10.0.0.1': expected HOST:PORT or "
                          "[IPV6]:PORT with a port from 1 to 65535",
                          "t.toml:4:36: invalid backend '::1:443': expected HOST:PORT or "
                          "[IPV6]:PORT with a port from 1 to 65535",
                          "t.toml:5:36: invalid backend 'bad_host!:443': 'bad_host!' is neither an "
                          "IP address nor a valid host name",
                          "t.toml:6:36: invalid backend '10.0.0.300:443': '10.0.0.300' is not a "
                          "valid IP address",
                          "t.toml:7:36: invalid backend '10.0.0.1:0': expected HOST:PORT or "
                          "[IPV6]:PORT with a port from 1 to 65535"));
}

TEST(ConfigErrorsTest, BadPatterns) {
  EXPECT_THAT(
      errors_with(R"([tables]
u = [
  { match = "*", deny = true },
  { match = "a.*.b", deny = true },
  { match = "*foo.com", deny = true },
  { match = "*.*.foo.com", deny = true },
  { match = "bad name", deny = true },
  { match = "~", deny = true },
  { match = "~(unclosed", deny = true },
  { match = "*.", deny = true },
]
)"),
      ElementsAre(
          "t.toml:3:13: invalid pattern '*': a wildcard is one leading '*.' followed by a name, "
          "e.g. \"*.example.com\"",
          "t.toml:4:13: invalid pattern 'a.*.b': a wildcard is one leading '*.' followed by a "
          "name, e.g. \"*.example.com\"",
          "t.toml:5:13: invalid pattern '*foo.com': a wildcard is one leading '*.' followed by a "
          "name, e.g. \"*.example.com\"",
          "t.toml:6:13: invalid pattern '*.*.foo.com': a wildcard is one leading '*.' followed by "
          "a name, e.g. \"*.example.com\"",
          "t.toml:7:13: invalid pattern 'bad name': not a valid server name (use \"*.name\" or "
          "\"~regex\" for patterns)",
          "t.toml:8:13: invalid pattern '~': empty regular expression after '~'",
          "t.toml:9:13: invalid pattern '~(unclosed': invalid regular expression: Mismatched '(' "
          "and ')' in regular expression",
          "t.toml:10:13: invalid pattern '*.': '' is not a valid server name"));
}

TEST(ConfigErrorsTest, DuplicatePatternsNameTheFirstLine) {
  EXPECT_THAT(errors_with(R"([[tables.u]]
match = "a.example"
deny = true
[[tables.u]]
match = "A.Example."
backend = "127.0.0.1:1"
[[tables.u]]
match = "*.x.example"
deny = true
[[tables.u]]
match = "*.X.example"
deny = true
)"),
              ElementsAre("t.toml:5:9: duplicate route 'A.Example.' in table 'u' (first defined at "
                          "line 2)",
                          "t.toml:11:9: duplicate route '*.X.example' in table 'u' (first defined "
                          "at line 8)"));
}

// --- many at once ---------------------------------------------------------

TEST(ConfigErrorsTest, AllErrorsAreReportedInFileOrder) {
  const auto errors = errors_of(R"(workers = -1
log_level = "loud"
[timeouts]
idle = 300
[[listener]]
address = "nowhere"
table = "missing"
[[tables.t]]
match = "*x"
backend = "127.0.0.1"
[zzz]
a = 1
)");
  EXPECT_THAT(errors,
              ElementsAre("t.toml:1:11: 'workers' must be from 0 to 1024, got -1",
                          "t.toml:2:13: invalid value 'loud' for 'log_level': expected one of "
                          "debug, info, warn, error",
                          "t.toml:4:8: expected a duration string for 'idle', got an integer: a "
                          "bare number has no unit; write e.g. \"300s\" or \"300ms\"",
                          "t.toml:6:11: invalid address 'nowhere': expected IP:PORT or "
                          "[IPV6]:PORT (an IP literal, not a host name, and a port)",
                          "t.toml:7:9: no table 'missing'; defined tables: t",
                          "t.toml:9:9: invalid pattern '*x': a wildcard is one leading '*.' "
                          "followed by a name, e.g. \"*.example.com\"",
                          "t.toml:10:11: invalid backend '127.0.0.1': expected HOST:PORT or "
                          "[IPV6]:PORT with a port from 1 to 65535",
                          "t.toml:11:2: unknown key 'zzz' at the top level"));
  EXPECT_FALSE(load_string("workers = -1\n", "t.toml").config.has_value());
}

TEST(ConfigErrorsTest, DiagnosticFieldsAndToString) {
  auto r = load_string("\n\n\n\n\nworkers = \"x\"\n" + std::string(kTail), "dir/proxy.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.file, "dir/proxy.toml");
  EXPECT_EQ(r.errors[0].where.line, 6u);
  EXPECT_EQ(r.errors[0].where.column, 11u);
  EXPECT_EQ(r.errors[0].message, "expected an integer for 'workers', got a string");
  EXPECT_EQ(r.errors[0].to_string(),
            "dir/proxy.toml:6:11: expected an integer for 'workers', got a string");
}

}  // namespace
}  // namespace sniproxy::config
