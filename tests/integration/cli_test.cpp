// The command line: --check, --version, --help and mistakes.
#include <regex>

#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = sniproxy_binary();
    ASSERT_FALSE(binary_.empty()) << "SNIPROXY_BIN must name the sniproxy binary";
  }
  CommandResult run(const std::vector<std::string>& args) {
    return run_command(binary_, args, dir_.path());
  }
  std::string binary_;
  TempDir dir_;
};

TEST_F(CliTest, CheckAcceptsAGoodFile) {
  ConfigSpec spec;
  spec.access_log_path = dir_.file("access.log").string();
  spec.listeners.push_back({.name = "tls", .port = free_port()});
  spec.listeners.push_back(
      {.name = "http", .port = free_port(), .protocol = "http", .fallback = "127.0.0.1:9"});
  spec.table("default").push_back(
      {.match = "a.test", .backend = "127.0.0.1:1", .proxy_protocol = "v2"});
  spec.table("default").push_back({.match = "*.wild.test", .backend = "127.0.0.1:2"});
  spec.table("default").push_back({.match = "denied.test", .deny = true});
  spec.table("default").push_back({.match = "localhost", .resolve = 443, .allow_private = true});
  const auto path = dir_.file("good.toml");
  write_file(path, spec.to_toml());
  auto r = run({"--check", "--config", path.string()});
  EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nconfig:\n" << spec.to_toml();
}

TEST_F(CliTest, CheckRejectsABadFileWithFileLineColumn) {
  const auto path = dir_.file("bad.toml");
  // Line 3: a listener address that is not an address; line 6: an unknown key.
  write_file(path,
             "[[listener]]\n"
             "name = \"tls\"\n"
             "address = \"not an address\"\n"
             "table = \"default\"\n"
             "[[tables.default]]\n"
             "mtach = \"a.test\"\n"
             "backend = \"127.0.0.1:1\"\n");
  auto r = run({"--check", "--config", path.string()});
  EXPECT_EQ(r.exit_code, 2) << "stderr: " << r.err;
  const std::regex located(
      "(^|\n)" + std::regex_replace(path.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
      ":[0-9]+:[0-9]+: ");
  EXPECT_TRUE(std::regex_search(r.err, located)) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(path.string() + ":3:"), std::string::npos) << "stderr: " << r.err;
}

TEST_F(CliTest, CheckRejectsTomlSyntaxErrors) {
  const auto path = dir_.file("syntax.toml");
  write_file(path, "workers = 2\nthis = = broken\n");
  auto r = run({"--check", "--config", path.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path.string() + ":2:"), std::string::npos) << "stderr: " << r.err;
}

TEST_F(CliTest, CheckOfAMissingFileFails) {
  auto r = run({"--check", "--config", dir_.file("missing.toml").string()});
  EXPECT_EQ(r.exit_code, 2) << "stderr: " << r.err;
  EXPECT_FALSE(r.err.empty());
}

TEST_F(CliTest, VersionPrintsNameAndVersion) {
  auto r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^sniproxy [0-9]+\.[0-9]+)"))) << r.out;
}

TEST_F(CliTest, HelpExitsZeroWithUsage) {
  auto r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("--config"), std::string::npos) << r.out << r.err;
}

TEST_F(CliTest, UnknownOptionExitsTwoWithUsage) {
  auto r = run({"--no-such-option"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage"), std::string::npos) << r.err;
}

TEST_F(CliTest, RunWithABadFileFailsAndSaysWhere) {
  const auto path = dir_.file("bad.toml");
  write_file(path, "workers = \"many\"\n");
  auto r = run({"--config", path.string()});
  ASSERT_TRUE(r.exit_code.has_value()) << "still running 10 s after start on a bad file";
  EXPECT_NE(*r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(path.string() + ":1:"), std::string::npos) << "stderr: " << r.err;
}

}  // namespace
}  // namespace sniproxy::integration
