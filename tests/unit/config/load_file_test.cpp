// load_file: the one entry point that touches the file system.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"

#ifndef SNIPROXY_SOURCE_ROOT
#error "meson passes SNIPROXY_SOURCE_ROOT"
#endif

namespace sniproxy::config {
namespace {

TEST(LoadFileTest, MissingFileIsOneDiagnosticAtZeroZero) {
  const std::string path = std::string(SNIPROXY_SOURCE_ROOT) + "/does/not/exist.toml";
  auto r = load_file(path);
  EXPECT_FALSE(r.config.has_value());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), path + ":0:0: cannot read: No such file or directory");
}

TEST(LoadFileTest, DirectoryIsNotReadable) {
  auto r = load_file(SNIPROXY_SOURCE_ROOT);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            std::string(SNIPROXY_SOURCE_ROOT) + ":0:0: cannot read: Is a directory");
}

TEST(LoadFileTest, ShippedExampleLoadsWithoutErrors) {
  const std::string path = std::string(SNIPROXY_SOURCE_ROOT) + "/packaging/proxy.toml";
  auto r = load_file(path);
  for (const auto& d : r.errors) ADD_FAILURE() << d.to_string();
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.file, path);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].address.to_string(), "127.0.0.1:8443");
  EXPECT_EQ(c.listeners[0].protocol, Protocol::tls);
  EXPECT_EQ(c.listeners[1].address.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(c.listeners[1].protocol, Protocol::http);
  ASSERT_EQ(c.tables.count("default"), 1u);
  const auto& routes = c.tables.at("default").routes;
  ASSERT_EQ(routes.size(), 5u);
  EXPECT_EQ(routes[0].key, "www.example.test");
  EXPECT_EQ(describe(routes[0].target), "127.0.0.1:9443");
  EXPECT_EQ(routes[1].key, ".apps.example.test");
  EXPECT_EQ(describe(routes[1].target), "127.0.0.1:9444");
  EXPECT_EQ(routes[2].kind, PatternKind::regex);
  EXPECT_EQ(routes[4].target.kind, Target::Kind::deny);
  EXPECT_EQ(c.access_log.path, "stderr");
  EXPECT_EQ(c.access_log.format, LogFormat::text);
}

}  // namespace
}  // namespace sniproxy::config
