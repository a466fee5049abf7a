// Socket activation: the listening socket comes from systemd-socket-activate
// (which passes it the way a .socket unit does: $LISTEN_FDS, $LISTEN_PID,
// $LISTEN_FDNAMES), and the proxy serves on it in every mode instead of
// binding its own; a listener the activator did not pass is bound as usual.
#include <signal.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "support/backend.hpp"
#include "support/backend_behaviours.hpp"
#include "support/credentials.hpp"
#include "support/ports.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

constexpr const char* kActivator = "/usr/bin/systemd-socket-activate";

class SocketActivationTest : public ProxyTest {
 protected:
  // Starts the proxy under the activator, which listens on `passed` (named
  // `fdname`) and starts the proxy at the first connection to it: the
  // readiness probe's. Returns once both workers accept.
  void start_activated(const ConfigSpec& spec, std::uint16_t passed, const std::string& fdname) {
    write_file(config_path(), spec.to_toml());
    const std::string script = launcher_script(
        dir_.file("activate.sh"),
        std::string(kActivator) + " -l 127.0.0.1:" + std::to_string(passed) + " --fdname=" + fdname,
        sniproxy_binary());
    proxy_ = std::make_unique<ProxyProcess>(script, config_path(), dir_.path());
    ASSERT_EQ(proxy_->start({passed}), "");
    ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(30'000)), 2))
        << proxy_->log();
  }
};

TEST_P(SocketActivationTest, ServesOnTheSocketSystemdPassed) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.table("default").push_back(route("passed.example", backend));
  ASSERT_NO_FATAL_FAILURE(start_activated(spec, spec.listeners[0].port, "tls"));

  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=listener_passed listener=tls"), std::string::npos) << log;
  EXPECT_EQ(count_occurrences(log, "socket=passed"), 2) << log;
  EXPECT_EQ(log.find("socket=bound"), std::string::npos) << log;
  for (int i = 0; i < 3; ++i) {
    UniqueFd c = connect_echoed(spec.listeners[0].port, "passed.example");
    ASSERT_TRUE(c);
  }
}

TEST_P(SocketActivationTest, AListenerNotPassedIsBoundAndAStraySocketIsClosed) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.table("default").push_back(route("bound.example", backend));
  // The activator passes a socket on another port: no listener has it.
  const std::uint16_t stray = free_port();
  ASSERT_NO_FATAL_FAILURE(start_activated(spec, stray, "stray"));
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=listener_passed_unused address=127.0.0.1:" + std::to_string(stray)),
            std::string::npos)
      << log;
  EXPECT_EQ(count_occurrences(log, "socket=bound"), 2) << log;
  UniqueFd c = connect_echoed(spec.listeners[0].port, "bound.example");
  EXPECT_TRUE(c);
}

// Under a master, systemd's socket goes to the master, which passes it to
// each worker generation: an upgrade serves on it without a gap.
TEST_P(SocketActivationTest, AMasterPassesSystemdsSocketToEachGeneration) {
  if (::access(kActivator, X_OK) != 0) GTEST_SKIP() << "needs " << kActivator << " (systemd)";
  if (GetParam() != "copy") GTEST_SKIP() << "one mode is enough: the master does not forward";
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.process += "master = true\n";
  spec.table("default").push_back(route("passed.example", backend));
  ASSERT_NO_FATAL_FAILURE(start_activated(spec, spec.listeners[0].port, "tls"));
  EXPECT_TRUE(
      proxy_->wait_for_log("event=generation_ready generation=1", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  EXPECT_EQ(count_occurrences(proxy_->log(), "socket=passed"), 2) << proxy_->log();
  EXPECT_TRUE(connect_echoed(spec.listeners[0].port, "passed.example"));
  proxy_->signal(SIGUSR2);
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=2",
                                   Deadline::in(milliseconds(30'000))))
      << proxy_->log();
  EXPECT_EQ(count_occurrences(proxy_->log(), "socket=passed"), 4) << proxy_->log();
  EXPECT_EQ(proxy_->log().find("socket=bound"), std::string::npos) << proxy_->log();
  EXPECT_TRUE(connect_echoed(spec.listeners[0].port, "passed.example"));
}

SNIPROXY_INSTANTIATE_FOR_MODES(SocketActivationTest);

}  // namespace
}  // namespace sniproxy::integration
