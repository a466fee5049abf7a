#include "proxy_fixture.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace sniproxy::integration {

std::vector<std::string> forwarding_modes() {
  return {"copy", "splice", "auto", "sockmap"};
}

std::string mode_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

void ProxyTest::TearDown() {
  // A proxy that died on its own during the test is a failure whatever the
  // test checked (a crash after the last assertion would go unseen).
  if (proxy_ && proxy_->pid() > 0 && !HasFatalFailure() && !proxy_->stop_requested() &&
      !proxy_->running()) {
    ADD_FAILURE() << "sniproxy exited during the test with code "
                  << proxy_->wait_exit(milliseconds(0)).value_or(-1);
  }
  if (HasFailure() && proxy_) {
    std::string log = proxy_->log();
    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
    std::string access = read_file(access_log_path());
    // The lines of connections that did not end well come first, in full:
    // in a long log they are what the failure is about.
    std::string not_ok;
    for (std::size_t at = 0; at < access.size();) {
      std::size_t end = access.find('\n', at);
      if (end == std::string::npos) end = access.size();
      std::string_view line(access.data() + at, end - at);
      if (!line.empty() && line.find("outcome=ok") == std::string_view::npos)
        not_ok.append(line).push_back('\n');
      at = end + 1;
    }
    if (access.size() > 3000) access = "..." + access.substr(access.size() - 3000);
    std::fprintf(stderr,
                 "---- sniproxy stderr ----\n%s\n---- access log: not ok ----\n%s"
                 "---- access log ----\n%s\n",
                 log.c_str(), not_ok.c_str(), access.c_str());
  }
  proxy_.reset();
}

ConfigSpec ProxyTest::base_config() {
  ConfigSpec spec;
  spec.forwarding_mode = GetParam();
  spec.access_log_path = access_log_path().string();
  spec.listeners.push_back(ListenerSpec{.name = "tls", .port = free_port()});
  spec.table("default");
  return spec;
}

void ProxyTest::start_proxy(const ConfigSpec& spec, const std::vector<std::uint16_t>& more_ports) {
  const std::string binary = proxy_binary_.empty() ? sniproxy_binary() : proxy_binary_;
  ASSERT_FALSE(binary.empty()) << "SNIPROXY_BIN must name the sniproxy binary";
  write_file(config_path(), spec.to_toml());
  listener_port_ = spec.listeners.empty() ? 0 : spec.listeners[0].port;
  proxy_ = std::make_unique<ProxyProcess>(binary, config_path(), dir_.path());
  proxy_->set_env(proxy_env_);
  std::vector<std::uint16_t> ports = spec.ports();
  ports.insert(ports.end(), more_ports.begin(), more_ports.end());
  const std::string error = proxy_->start(ports);
  ASSERT_EQ(error, "") << "config was:\n" << spec.to_toml();
}

void ProxyTest::start_routing(ConfigSpec& spec, const std::vector<RouteSpec>& routes) {
  auto& table = spec.table("default");
  table.insert(table.end(), routes.begin(), routes.end());
  start_proxy(spec);
}

void ProxyTest::start_routing(const std::vector<RouteSpec>& routes) {
  ConfigSpec spec = base_config();
  start_routing(spec, routes);
}

void ProxyTest::rewrite_config(const std::string& text) {
  write_file(config_path(), text);
}

UniqueFd ProxyTest::connect_to(std::uint16_t port) {
  auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
  EXPECT_TRUE(c.fd.valid()) << "connect to port " << port << " failed: " << std::strerror(c.error);
  return std::move(c.fd);
}

UniqueFd ProxyTest::connect_echoed(std::uint16_t port, const std::string& name) {
  UniqueFd c = connect_to(port);
  if (!c) return c;
  const auto hello = hello_for(name);
  std::vector<std::uint8_t> echoed;
  if (send_all(c.get(), hello, Deadline::in(milliseconds(3000))) != IoStatus::ok ||
      read_exact(c.get(), hello.size(), echoed, Deadline::in(milliseconds(3000))) != IoStatus::ok ||
      echoed != hello) {
    ADD_FAILURE() << "the hello for " << name << " did not come back through port " << port;
    return UniqueFd();
  }
  return c;
}

std::optional<AccessEntry> ProxyTest::access_entry(std::uint16_t client_port) {
  return wait_access_entry(access_log_path(), client_port, Deadline::in(milliseconds(5000)));
}

}  // namespace sniproxy::integration
