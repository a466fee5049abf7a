// `systemctl reload sniproxy` runs the unit's ExecReload= lines in order and
// stops at the first that fails: the --check line comes first, so a bad file
// fails the reload command itself instead of only a log line.
#include <sstream>

#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

const std::filesystem::path kUnit =
    std::filesystem::path(SNIPROXY_SOURCE_DIR) / "packaging/systemd/sniproxy.service";
constexpr std::string_view kConfig = "/etc/sniproxy/proxy.toml";

// The values of `key=` lines in the unit, in file order.
std::vector<std::string> unit_values(const std::string& key) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(read_file(kUnit)))
    if (line.rfind(key + "=", 0) == 0) out.push_back(line.substr(key.size() + 1));
  return out;
}

std::vector<std::string> words(const std::string& command) {
  std::istringstream in(command);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(UnitReloadCheck, ExecReloadChecksTheFileBeforeTheSignal) {
  ASSERT_FALSE(read_file(kUnit).empty()) << kUnit;
  const auto reload = unit_values("ExecReload");
  ASSERT_EQ(reload.size(), 2u) << "want two ExecReload= lines: --check, then kill -HUP";
  EXPECT_EQ(reload[0], "/usr/sbin/sniproxy --check --config " + std::string(kConfig));
  EXPECT_EQ(reload[1], "/bin/kill -HUP $MAINPID");
  EXPECT_EQ(unit_values("Type"), std::vector<std::string>{"notify"});
  EXPECT_EQ(unit_values("NotifyAccess"), std::vector<std::string>{"main"});
}

TEST(UnitReloadCheck, TheCheckLineFailsOnABadFileAndPassesAGoodOne) {
  const std::string binary = sniproxy_binary();
  ASSERT_FALSE(binary.empty()) << "SNIPROXY_BIN must name the sniproxy binary";
  const auto reload = unit_values("ExecReload");
  ASSERT_FALSE(reload.empty());
  // The unit's own command, with the installed binary and config swapped
  // for the one under test and a file in a temp dir.
  auto args = words(reload[0]);
  ASSERT_GE(args.size(), 2u);
  ASSERT_EQ(args[0], "/usr/sbin/sniproxy");
  args.erase(args.begin());
  TempDir dir;
  auto with_config = [&](const std::filesystem::path& path) {
    auto a = args;
    for (auto& w : a)
      if (w == kConfig) w = path.string();
    return a;
  };

  ConfigSpec spec;
  spec.access_log_path = dir.file("access.log").string();
  spec.listeners.push_back({.name = "tls", .port = free_port()});
  spec.table("default").push_back({.match = "a.test", .backend = "127.0.0.1:1"});
  write_file(dir.file("good.toml"), spec.to_toml());
  auto good = run_command(binary, with_config(dir.file("good.toml")), dir.path());
  ASSERT_TRUE(good.exit_code.has_value());
  EXPECT_EQ(*good.exit_code, 0) << good.err;

  write_file(dir.file("bad.toml"), spec.to_toml() + "\n[[listener]]\nname = 7\n");
  auto bad = run_command(binary, with_config(dir.file("bad.toml")), dir.path());
  ASSERT_TRUE(bad.exit_code.has_value());
  EXPECT_NE(*bad.exit_code, 0) << bad.out;
  EXPECT_NE(bad.err.find("bad.toml:"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace sniproxy::integration
