#pragma once
// The GoogleTest fixture every proxy test derives from: a temp dir, a config
// built from ConfigSpec, the proxy process, and the forwarding mode under
// test as the parameter.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "access_log.hpp"
#include "backend.hpp"
#include "config_text.hpp"
#include "ports.hpp"
#include "proxy_process.hpp"
#include "socket_io.hpp"
#include "temp_dir.hpp"
#include "tls_hello.hpp"

namespace sniproxy::integration {

// The forwarding modes each proxy test runs under. Later modes (splice,
// sockmap) are added here.
std::vector<std::string> forwarding_modes();

class ProxyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override;

  // One TLS listener "tls" on a fresh port, table "default", this test's
  // mode, access log in the temp dir.
  ConfigSpec base_config();
  // Writes the config and starts the proxy; fails the test (fatally) if it
  // does not come up (its listeners and `more_ports`, such as an admin port
  // set in `extra`, all accept). Use with ASSERT_NO_FATAL_FAILURE.
  void start_proxy(const ConfigSpec& spec, const std::vector<std::uint16_t>& more_ports = {});
  // Adds `routes` to table "default" of `spec` (base_config() when not
  // given) and starts the proxy on it as start_proxy does.
  void start_routing(ConfigSpec& spec, const std::vector<RouteSpec>& routes);
  void start_routing(const std::vector<RouteSpec>& routes);
  // The first listener's port of the config started last.
  [[nodiscard]] std::uint16_t listener_port() const { return listener_port_; }
  // Rewrites the config file in place (for reload tests).
  void rewrite_config(const std::string& text);

  // A connection to a listener; fails the test when the connect does.
  UniqueFd connect_to(std::uint16_t port);
  // A connection whose hello for `name` went through to an echoing backend
  // and came back: forwarding, and still open. Invalid (test failed) if not.
  UniqueFd connect_echoed(std::uint16_t port, const std::string& name);
  // The access-log entry of the connection from client_port (waits up to 5 s).
  std::optional<AccessEntry> access_entry(std::uint16_t client_port);

  [[nodiscard]] std::filesystem::path access_log_path() const { return dir_.file("access.log"); }
  [[nodiscard]] std::filesystem::path config_path() const { return dir_.file("sniproxy.toml"); }

  TempDir dir_;
  std::unique_ptr<ProxyProcess> proxy_;
  // More environment for the proxy start_proxy() starts ("KEY=VALUE").
  std::vector<std::string> proxy_env_;
  // What start_proxy() runs instead of $SNIPROXY_BIN (a launcher script).
  std::string proxy_binary_;

 private:
  std::uint16_t listener_port_ = 0;
};

// A route from server name `name` to `backend` (a Backend, a BackendPool:
// anything with an address()).
template <class AnyBackend>
RouteSpec route(std::string name, const AnyBackend& backend) {
  return {.match = std::move(name), .backend = backend.address()};
}

std::string mode_name(const ::testing::TestParamInfo<std::string>& info);

#define SNIPROXY_INSTANTIATE_FOR_MODES(Suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Modes, Suite,                                                     \
                           ::testing::ValuesIn(::sniproxy::integration::forwarding_modes()), \
                           ::sniproxy::integration::mode_name)

}  // namespace sniproxy::integration
