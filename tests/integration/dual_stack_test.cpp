// Dual-stack listeners: "[::]:P" takes IPv4 and IPv6 clients, IPv4 ones
// showing as IPv4 addresses; v6only = true refuses IPv4; "0.0.0.0:P" and
// "[::]:P" side by side each serve their own family.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "support/backend.hpp"
#include "support/backend_behaviours.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class DualStackTest : public ProxyTest {
 protected:
  void SetUp() override {
    // Only the listening socket differs; one mode says it.
    if (GetParam() != "copy") GTEST_SKIP() << "one mode is enough: the listener is the subject";
  }

  // A hello for `name` through `to`, echoed by the backend; then the access
  // log's entry for it.
  AccessEntry echo_through(const Endpoint& to, const std::string& name) {
    auto c = connect_tcp(to, Deadline::in(milliseconds(3000)));
    EXPECT_TRUE(c.fd.valid()) << "connect to " << to.to_string() << ": " << std::strerror(c.error);
    const auto hello = hello_for(name);
    std::vector<std::uint8_t> echoed;
    EXPECT_EQ(send_all(c.fd.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    EXPECT_EQ(read_exact(c.fd.get(), hello.size(), echoed, Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    EXPECT_EQ(echoed, hello);
    const std::uint16_t client_port = local_endpoint(c.fd.get()).port;
    c.fd.reset();
    auto entry = access_entry(client_port);
    EXPECT_TRUE(entry.has_value()) << "no access line for client port " << client_port;
    return entry.value_or(AccessEntry{});
  }

  static Endpoint at(const char* ip, std::uint16_t port) {
    return Endpoint{*IpAddress::parse(ip), port};
  }
};

TEST_P(DualStackTest, AnIpv6WildcardServesIpv4ClientsAsIpv4AndIpv6Clients) {
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.listeners[0].host = "[::]";
  spec.table("default").push_back(route("both.example", backend));
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::uint16_t port = spec.listeners[0].port;

  AccessEntry v4 = echo_through(at("127.0.0.1", port), "both.example");
  EXPECT_EQ(v4["client"].rfind("127.0.0.1:", 0), 0u) << v4["client"];
  EXPECT_EQ(v4["outcome"], "ok");
  AccessEntry v6 = echo_through(at("::1", port), "both.example");
  EXPECT_EQ(v6["client"].rfind("[::1]:", 0), 0u) << v6["client"];
  EXPECT_EQ(v6["outcome"], "ok");
}

TEST_P(DualStackTest, V6onlyRefusesIpv4Clients) {
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();  // an IPv4 listener, probed for readiness
  ListenerSpec six{.name = "six", .port = free_port()};
  six.host = "[::]";
  six.lines = "v6only = true\n";
  spec.listeners.push_back(six);
  spec.table("default").push_back(route("six.example", backend));
  write_file(config_path(), spec.to_toml());
  proxy_ = std::make_unique<ProxyProcess>(sniproxy_binary(), config_path(), dir_.path());
  ASSERT_EQ(proxy_->start({spec.listeners[0].port}), "");
  ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 4));

  auto refused = connect_tcp(at("127.0.0.1", six.port), Deadline::in(milliseconds(3000)));
  EXPECT_FALSE(refused.fd.valid());
  EXPECT_EQ(refused.error, ECONNREFUSED);
  AccessEntry v6 = echo_through(at("::1", six.port), "six.example");
  EXPECT_EQ(v6["listener"], "six");
}

TEST_P(DualStackTest, Ipv4AndIpv6WildcardsOnOnePortEachServeTheirFamily) {
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  const std::uint16_t port = spec.listeners[0].port;
  spec.listeners[0].name = "four";
  spec.listeners[0].host = "0.0.0.0";
  ListenerSpec six{.name = "six", .port = port};
  six.host = "[::]";
  spec.listeners.push_back(six);
  spec.table("default").push_back(route("shared.example", backend));
  write_file(config_path(), spec.to_toml());
  proxy_ = std::make_unique<ProxyProcess>(sniproxy_binary(), config_path(), dir_.path());
  ASSERT_EQ(proxy_->start({port}), "");
  ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 4));

  EXPECT_EQ(echo_through(at("127.0.0.1", port), "shared.example")["listener"], "four");
  EXPECT_EQ(echo_through(at("::1", port), "shared.example")["listener"], "six");
}

SNIPROXY_INSTANTIATE_FOR_MODES(DualStackTest);

}  // namespace
}  // namespace sniproxy::integration
