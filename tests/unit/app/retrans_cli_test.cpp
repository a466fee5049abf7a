#include <gtest/gtest.h>

#include "app/cli.hpp"

namespace sniproxy::app {
namespace {

TEST(RetransCli, PlainAndJson) {
  auto p = parse_args({"retrans"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->command, Options::Command::retrans);
  EXPECT_FALSE(p.options->json);
  EXPECT_FALSE(p.options->interval_s);
  p = parse_args({"retrans", "--json"});
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->json);
}

TEST(RetransCli, Interval) {
  auto p = parse_args({"retrans", "--interval", "2.5", "--json"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_DOUBLE_EQ(*p.options->interval_s, 2.5);
  EXPECT_TRUE(p.options->json);
  p = parse_args({"retrans", "--interval=1"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_DOUBLE_EQ(*p.options->interval_s, 1.0);
}

TEST(RetransCli, BadIntervals) {
  EXPECT_FALSE(parse_args({"retrans", "--interval"}).options);
  EXPECT_FALSE(parse_args({"retrans", "--interval", "0"}).options);
  EXPECT_FALSE(parse_args({"retrans", "--interval", "abc"}).options);
  EXPECT_FALSE(parse_args({"retrans", "--interval", "1x"}).options);
  EXPECT_FALSE(parse_args({"retrans", "--interval", "nan"}).options);
  EXPECT_EQ(parse_args({"retrans", "--config", "x"}).error, "retrans: unknown option '--config'");
}

TEST(RetransCli, HelpMentionsIt) {
  EXPECT_NE(usage().find("retrans [--interval SEC] [--json]"), std::string::npos);
  EXPECT_EQ(parse_args({"retrans", "--help"}).options->command, Options::Command::help);
}

}  // namespace
}  // namespace sniproxy::app
