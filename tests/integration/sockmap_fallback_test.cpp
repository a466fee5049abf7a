// Sockmap mode's fallback to splice, forced: a map sized for one connection
// takes the first, and the second is forwarded by splice instead, says so in
// the log and the access log, and carries its bytes like the first.
#include <cstdlib>
#include <filesystem>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class SockmapFallbackTest : public ProxyTest {};

// Sends the hello and a payload, expects the echo of both back.
void expect_echo(int fd, const std::vector<std::uint8_t>& hello, const std::string& payload) {
  std::vector<std::uint8_t> out = hello;
  out.insert(out.end(), payload.begin(), payload.end());
  ASSERT_EQ(send_all(fd, out, Deadline::in(milliseconds(3000))), IoStatus::ok);
  std::vector<std::uint8_t> got;
  ASSERT_EQ(read_exact(fd, out.size(), got, Deadline::in(milliseconds(3000))), IoStatus::ok);
  EXPECT_EQ(got, out);
}

TEST_P(SockmapFallbackTest, FullMapFallsBackToSpliceAndSaysWhy) {
  Backend backend(echo_handler());
  ConfigSpec spec = base_config();
  spec.forwarding_extra = "sockmap_connections = 1\n";
  ASSERT_NO_FATAL_FAILURE(start_routing(spec, {route("echo.test", backend)}));
  const auto hello = hello_for("echo.test");

  UniqueFd first = connect_to(listener_port());
  ASSERT_TRUE(first);
  ASSERT_NO_FATAL_FAILURE(expect_echo(first.get(), hello, "first, in the kernel"));
  UniqueFd second = connect_to(listener_port());  // while the first holds the map
  ASSERT_TRUE(second);
  ASSERT_NO_FATAL_FAILURE(expect_echo(second.get(), hello, "second, spliced"));
  const std::uint16_t first_port = local_endpoint(first.get()).port;
  const std::uint16_t second_port = local_endpoint(second.get()).port;
  first.reset();
  second.reset();

  auto a = access_entry(first_port);
  auto b = access_entry(second_port);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)["mode"], "sockmap");
  EXPECT_EQ((*b)["mode"], "sockmap/splice");
  EXPECT_EQ((*b)["bytes_in"], std::to_string(hello.size() + 15));
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=sockmap_fallback"), std::string::npos) << log;
  EXPECT_NE(log.find("reason=\"map_full"), std::string::npos) << log;
  EXPECT_NE(log.find("fallbacks_total=1"), std::string::npos) << log;
}

// A set-up without what sockmap needs (here: BCC finds no kernel header
// tree) starts anyway, says so once, and splices every connection.
TEST_P(SockmapFallbackTest, UnavailableSockmapSplicesEveryConnectionAndSaysWhyOnce) {
  Backend backend(echo_handler());
  const auto no_headers = dir_.file("no-kernel-headers");
  std::filesystem::create_directories(no_headers);
  ::setenv("BCC_KERNEL_SOURCE", no_headers.c_str(), 1);
  start_routing({route("echo.test", backend)});
  ::unsetenv("BCC_KERNEL_SOURCE");
  ASSERT_FALSE(HasFatalFailure());
  const auto hello = hello_for("echo.test");
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 2; ++i) {
    UniqueFd c = connect_to(listener_port());
    ASSERT_TRUE(c);
    ASSERT_NO_FATAL_FAILURE(expect_echo(c.get(), hello, "spliced instead"));
    ports.push_back(local_endpoint(c.get()).port);
  }
  for (std::uint16_t port : ports) {
    auto entry = access_entry(port);
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["mode"], "sockmap/splice");
  }
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("event=sockmap_unavailable detail=\"BPF: no kernel header tree at " +
                     no_headers.string()),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("event=sockmap_fallback"), std::string::npos) << "no line per connection";
}

INSTANTIATE_TEST_SUITE_P(Sockmap, SockmapFallbackTest, ::testing::Values("sockmap"),
                         ::sniproxy::integration::mode_name);

}  // namespace
}  // namespace sniproxy::integration
