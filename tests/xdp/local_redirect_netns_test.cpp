// [forwarding] local_redirect with two hosts: the proxy in the server
// namespace in front of one backend beside it (127.0.0.1: the same host) and
// one in the client namespace (another host, over the veth). Only the
// connection to the backend on the same host is redirected, and copied; the
// other stays a TCP connection forwarded in the configured mode.
#include <fmt/format.h>

#include <thread>

#include "access_log.hpp"
#include "tls_hello.hpp"
#include "xdp_fixture.hpp"

namespace sniproxy::xdp_test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kRemoteName = "remote.test";

class LocalRedirectNetnsTest : public XdpProxyTest {
 protected:
  // A client in the client namespace asks for `name` and reads the backend's
  // greeting; then it closes, so the access log gets its line.
  void exchange(std::string_view name) {
    auto connected = connect_from(kAllowed4, 3000ms);
    ASSERT_TRUE(connected.fd) << std::strerror(connected.error);
    const int fd = connected.fd.get();
    const auto hello = integration::hello_for(std::string(name));
    ASSERT_EQ(integration::send_all(fd, hello, Deadline::in(3000ms)), integration::IoStatus::ok);
    std::vector<std::uint8_t> reply;
    ASSERT_EQ(integration::read_exact(fd, kBackendGreeting.size(), reply, Deadline::in(3000ms)),
              integration::IoStatus::ok);
    EXPECT_EQ(integration::to_text(reply), kBackendGreeting);
  }
  // The mode= of the access log line for `name` (waits for it, bounded).
  std::string logged_mode(std::string_view name) {
    const Deadline deadline = Deadline::in(5000ms);
    while (!deadline.expired()) {
      for (const auto& line :
           integration::split_lines(integration::read_file(file("access.log")))) {
        auto entry = integration::parse_access_line(line);
        if (entry["server_name"] == name) return entry["mode"];
      }
      std::this_thread::sleep_for(20ms);
    }
    return "(no access log line)";
  }
};

TEST_F(LocalRedirectNetnsTest, OnlyTheBackendOnThisHostIsRedirected) {
  std::unique_ptr<integration::Backend> remote;
  ASSERT_EQ(run_in(topology_.client_ns(),
                   [&] {
                     remote = std::make_unique<integration::Backend>(
                         greeting_backend(), Endpoint{address(kAllowed4), 0});
                   }),
            "");
  const std::string toml = fmt::format(R"(workers = 1
[process]
allow_root = true

[forwarding]
mode = "splice"
local_redirect = true

[access_log]
path = "{}"

[[listener]]
name = "v4"
address = "0.0.0.0:{}"
table = "t"

[[tables.t]]
match = "{}"
backend = "{}"

[[tables.t]]
match = "{}"
backend = "{}"
)",
                                       file("access.log").string(), kPort, kServerName,
                                       backend_->address(), kRemoteName, remote->address());
  ASSERT_EQ(start_proxy(toml), "");
  ASSERT_NO_FATAL_FAILURE(exchange(kServerName));
  ASSERT_NO_FATAL_FAILURE(exchange(kRemoteName));
  EXPECT_EQ(logged_mode(kServerName), "splice/local");
  EXPECT_EQ(logged_mode(kRemoteName), "splice");
  EXPECT_NE(proxy_->log().find("event=local_redirect_ready"), std::string::npos) << proxy_->log();
}

}  // namespace
}  // namespace sniproxy::xdp_test
