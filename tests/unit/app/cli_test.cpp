#include "app/cli.hpp"

#include <gtest/gtest.h>

namespace sniproxy::app {
namespace {

TEST(Cli, RunNeedsConfig) {
  auto p = parse_args({});
  EXPECT_FALSE(p.options);
  EXPECT_EQ(p.error, "--config FILE is required");
  p = parse_args({"--config", "x.toml"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->command, Options::Command::run);
  EXPECT_EQ(p.options->config_path, "x.toml");
}

TEST(Cli, CheckVersionHelpProbe) {
  EXPECT_EQ(parse_args({"--check", "--config=x"}).options->command, Options::Command::check);
  EXPECT_EQ(parse_args({"--version"}).options->command, Options::Command::version);
  EXPECT_EQ(parse_args({"-h"}).options->command, Options::Command::help);
  auto probe = parse_args({"--probe", "--json"});
  EXPECT_EQ(probe.options->command, Options::Command::probe);
  EXPECT_TRUE(probe.options->json);
}

TEST(Cli, UnknownOptionAndMissingValue) {
  EXPECT_EQ(parse_args({"--bogus"}).error, "unknown option '--bogus'");
  EXPECT_EQ(parse_args({"--config"}).error, "--config needs a file name");
}

TEST(Cli, DashCIsTheConfigFileNotTheCheck) {
  auto p = parse_args({"-c", "x.toml"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->command, Options::Command::run);
  EXPECT_EQ(p.options->config_path, "x.toml");
  p = parse_args({"-t", "-c", "x.toml"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->command, Options::Command::check);
  // haproxy -c alone: the error points at --check.
  p = parse_args({"-c"});
  EXPECT_FALSE(p.options);
  EXPECT_NE(p.error.find("-c is --config"), std::string::npos) << p.error;
  EXPECT_NE(p.error.find("--check --config FILE"), std::string::npos) << p.error;
}

TEST(Cli, HelpSaysWhatDashCAndCheckAre) {
  const std::string u = usage();
  EXPECT_NE(u.find("-c|--config FILE"), std::string::npos) << u;
  EXPECT_NE(u.find("config file"), std::string::npos) << u;
  EXPECT_NE(u.find("--check|-t"), std::string::npos) << u;
  EXPECT_NE(u.find("-c names the config file; it is not the\n"), std::string::npos) << u;
  EXPECT_NE(u.find("--json applies only to --probe and retrans"), std::string::npos) << u;
  EXPECT_NE(u.find("SIGUSR1"), std::string::npos) << u;
}

TEST(Cli, JsonIsRejectedWhereItMeansNothing) {
  auto p = parse_args({"--config", "x.toml", "--json"});
  EXPECT_FALSE(p.options);
  EXPECT_EQ(p.error, "--json applies only to --probe and retrans, not to running the proxy");
  p = parse_args({"--json", "--check", "--config", "x.toml"});
  EXPECT_FALSE(p.options);
  EXPECT_EQ(p.error, "--json applies only to --probe and retrans, not to --check");
  // Where it means something, in either order.
  p = parse_args({"--json", "--probe"});
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->json);
  p = parse_args({"retrans", "--json"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->command, Options::Command::retrans);
  EXPECT_TRUE(p.options->json);
}

}  // namespace
}  // namespace sniproxy::app
