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

}  // namespace
}  // namespace sniproxy::app
