#pragma once
// Writes the TOML a test runs the proxy with, from a few plain structs.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sniproxy::integration {

struct RouteSpec {
  std::string match{};
  std::string backend{};  // "127.0.0.1:PORT"; empty for deny/resolve routes
  bool deny = false;
  std::optional<std::uint16_t> resolve{};  // connect to the requested name on this port
  bool allow_private = false;
  std::string proxy_protocol{};     // "", "v1" or "v2"
  std::string pool{};               // a [pools.NAME] (in ConfigSpec::extra) instead of a backend
  std::vector<std::string> alpn{};  // the route matches only clients offering one of these
};

struct ListenerSpec {
  std::string name{};
  std::uint16_t port = 0;
  std::string protocol = "tls";
  std::string table = "default";
  std::string fallback{};          // "127.0.0.1:PORT" or empty
  std::string host = "127.0.0.1";  // an IP literal, "[::]" for IPv6
  std::string lines{};             // more lines of the [[listener]], e.g. "v6only = true\n"
};

// $SNIPROXY_TEST_REACTOR, or "" when unset.
std::string backend_under_test();
// "[reactor]\nbackend = ...\n" for it, or "": for configs written by hand.
std::string reactor_section();

struct ConfigSpec {
  int workers = 2;
  std::string hello_timeout = "500ms";
  std::string connect_timeout = "2s";
  std::string idle_timeout = "10s";
  std::string shutdown_timeout = "2s";
  std::string timeouts_extra;   // more [timeouts] lines, e.g. "preconnect_idle = \"1s\"\n"
  std::string access_log_path;  // empty: leave the default
  std::string access_log_format = "text";
  std::string forwarding_mode = "copy";
  std::string forwarding_extra;  // more [forwarding] lines, e.g. "pipes_per_worker = 2\n"
  std::vector<ListenerSpec> listeners;
  std::vector<std::pair<std::string, std::vector<RouteSpec>>> tables;
  // The [process] section's lines. The tests start the proxy as root, which
  // the proxy refuses without a user unless told it is meant.
  std::string process = "allow_root = true\n";
  std::string extra;  // appended verbatim
  // [reactor] backend; "" leaves the default (auto). The suite runs once per
  // backend: $SNIPROXY_TEST_REACTOR sets it for every config it writes.
  std::string reactor_backend = backend_under_test();

  [[nodiscard]] std::string to_toml() const;
  [[nodiscard]] std::vector<std::uint16_t> ports() const;
  // The routes of table `name`, created when missing.
  std::vector<RouteSpec>& table(const std::string& name);
};

}  // namespace sniproxy::integration
