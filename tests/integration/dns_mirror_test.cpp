// [dns] bpf_mirror: a backend named by DNS ("localhost", from /etc/hosts)
// is resolved for a real connection, and `bpftool map dump` of the map the
// proxy logged shows the name and its address as text, also after the
// proxy dropped to an unprivileged user. With bpf_mirror = false the proxy
// holds no BPF map at all.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// How many of the process's descriptors are BPF maps (their fdinfo has a
// map_type line).
int bpf_maps_held(pid_t pid) {
  int maps = 0;
  const auto fdinfo = std::filesystem::path("/proc") / std::to_string(pid) / "fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(fdinfo)) {
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);)
      if (line.rfind("map_type:", 0) == 0) ++maps;
  }
  return maps;
}

class DnsMirrorTest : public ProxyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creating a BPF map needs CAP_BPF";
    if (::system("bpftool version >/dev/null 2>&1") != 0) GTEST_SKIP() << "bpftool not installed";
  }

  // A hello for echo.test through the proxy to `backend` and back.
  void connect_through(std::uint16_t port) {
    UniqueFd c = connect_to(port);
    ASSERT_TRUE(c);
    const auto hello = hello_for("echo.test");
    ASSERT_EQ(send_all(c.get(), hello, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    ASSERT_EQ(read_exact(c.get(), hello.size(), got, Deadline::in(milliseconds(3000))),
              IoStatus::ok);
    EXPECT_TRUE(got == hello);
  }

  ConfigSpec localhost_config(const Backend& backend) {
    ConfigSpec spec = base_config();
    spec.table("default").push_back(
        {.match = "echo.test", .backend = fmt::format("localhost:{}", backend.port())});
    spec.extra = "[dns]\nprefer = \"ipv4-only\"\n";
    return spec;
  }
};

TEST_P(DnsMirrorTest, BpftoolShowsTheResolvedNameAndItsAddress) {
  Backend backend(echo_handler());
  ConfigSpec spec = localhost_config(backend);
  spec.process = "user = \"nobody\"\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  std::smatch m;
  const std::string log = proxy_->log();
  ASSERT_TRUE(std::regex_search(log, m,
                                std::regex("event=dns_mirror result=on map=sniproxy_dns "
                                           "map_id=([0-9]+) max_entries=20000")))
      << log;
  const std::string map_id = m[1];
  ASSERT_NO_FATAL_FAILURE(connect_through(spec.listeners[0].port));

  const auto out = run_command("/bin/sh", {"-c", "bpftool -j map dump id " + map_id}, dir_.path());
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find(R"("formatted":{"key":{"name":"localhost","worker":)"), std::string::npos)
      << out.out.substr(0, 4000);
  EXPECT_NE(out.out.find(R"("negative":0,"addresses":["127.0.0.1","",)"), std::string::npos)
      << out.out.substr(0, 4000);
  EXPECT_EQ(bpf_maps_held(proxy_->pid()), 1);
}

TEST_P(DnsMirrorTest, OffMeansNoMap) {
  Backend backend(echo_handler());
  ConfigSpec spec = localhost_config(backend);
  spec.extra += "bpf_mirror = false\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  ASSERT_NO_FATAL_FAILURE(connect_through(spec.listeners[0].port));
  EXPECT_EQ(proxy_->log().find("event=dns_mirror"), std::string::npos) << proxy_->log();
  EXPECT_EQ(bpf_maps_held(proxy_->pid()), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, DnsMirrorTest, ::testing::Values("copy"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
