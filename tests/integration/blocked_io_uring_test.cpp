// The real binary where io_uring is blocked as container runtimes block it
// (a seccomp filter: io_uring_setup fails with EPERM). backend = "auto" runs
// on epoll in every mode and says why once; an explicit io_uring is a clear
// start-up error, exit status 1.
#include <cstdlib>

#include "support/backend_behaviours.hpp"
#include "support/credentials.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class BlockedIoUringTest : public ProxyTest {
 protected:
  // The proxy behind the seccomp filter, as a launcher script.
  std::string blocked_binary() {
    const char* launcher = std::getenv("SNIPROXY_WITHOUT_IO_URING");
    if (launcher == nullptr || *launcher == '\0') return "";
    return launcher_script(dir_.file("without-io-uring.sh"), launcher, sniproxy_binary());
  }
};

TEST_P(BlockedIoUringTest, AutoServesOnEpollAndSaysWhy) {
  proxy_binary_ = blocked_binary();
  ASSERT_FALSE(proxy_binary_.empty()) << "SNIPROXY_WITHOUT_IO_URING must name the launcher";
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.reactor_backend = "auto";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("a.example", backend)}));
  for (int i = 0; i < 3; ++i) {
    UniqueFd c = connect_echoed(listener_port(), "a.example");
    ASSERT_TRUE(c.valid()) << proxy_->log();
  }
  const std::string log = proxy_->log();
  EXPECT_EQ(count_occurrences(log, "event=reactor_fallback"), 1) << log;
  EXPECT_NE(log.find("event=reactor_fallback backend=epoll reason=\"io_uring_setup failed: "
                     "Operation not permitted"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("reactor=epoll"), std::string::npos) << log;
}

TEST_P(BlockedIoUringTest, AnExplicitIoUringIsAClearErrorAndExitStatusOne) {
  const std::string binary = blocked_binary();
  ASSERT_FALSE(binary.empty()) << "SNIPROXY_WITHOUT_IO_URING must name the launcher";
  ConfigSpec spec = base_config();
  spec.reactor_backend = "io_uring";
  spec.table("default").push_back({.match = "a.example", .backend = "127.0.0.1:9"});
  write_file(config_path(), spec.to_toml());
  const CommandResult r = run_command(binary, {"--config", config_path().string()}, dir_.path());
  ASSERT_TRUE(r.exit_code.has_value()) << "still running: " << r.err;
  EXPECT_EQ(*r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("event=startup result=failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("io_uring cannot run here"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("backend = \\\"auto\\\" or \\\"epoll\\\""), std::string::npos) << r.err;
}

SNIPROXY_INSTANTIATE_FOR_MODES(BlockedIoUringTest);

}  // namespace
}  // namespace sniproxy::integration
