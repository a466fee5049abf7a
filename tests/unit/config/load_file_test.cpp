// load_file: the one entry point that touches the file system.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.hpp"

#ifndef SNIPROXY_SOURCE_ROOT
#error "meson passes SNIPROXY_SOURCE_ROOT"
#endif

namespace sniproxy::config {
namespace {

std::string example_path() {
  return std::string(SNIPROXY_SOURCE_ROOT) + "/packaging/proxy.toml";
}

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
  const std::string path = example_path();
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
  // Plain HTTP must not reach a TLS backend, nor one expecting a PROXY header.
  EXPECT_NE(c.listeners[0].table, c.listeners[1].table);
  ASSERT_EQ(c.tables.count("tls"), 1u);
  const auto& routes = c.tables.at("tls").routes;
  ASSERT_EQ(routes.size(), 6u);
  EXPECT_EQ(routes[0].key, "www.example.test");
  EXPECT_EQ(describe(routes[0].target), "127.0.0.1:9443");
  EXPECT_EQ(routes[1].key, ".apps.example.test");
  EXPECT_EQ(describe(routes[1].target), "127.0.0.1:9444");
  EXPECT_EQ(routes[2].kind, PatternKind::regex);
  EXPECT_EQ(routes[4].target.kind, Target::Kind::deny);
  EXPECT_EQ(describe(routes[5].target), "pool:shop");
  ASSERT_EQ(c.pools.count("shop"), 1u);
  EXPECT_EQ(c.pools.at("shop").servers.size(), 3u);
  for (const Route& route : c.tables.at(c.listeners[1].table).routes)
    EXPECT_EQ(route.target.proxy_protocol, ProxyProtocol::none) << route.pattern;
  EXPECT_EQ(c.access_log.path, "stderr");
  EXPECT_EQ(c.access_log.format, LogFormat::text);
}

// "# key = value" or "# [section]": a commented-out setting, not prose.
bool is_commented_setting(const std::string& line) {
  static const std::regex setting(R"(^# ?(\[|[a-z_][a-z0-9_]* *=))");
  return std::regex_search(line, setting);
}

// "#    # more words": the continuation of the comment on the line above.
bool is_continuation(const std::string& line) {
  static const std::regex continuation(R"(^#\s{2,}#)");
  return std::regex_search(line, continuation);
}

// The example promises that each commented setting is valid as it stands:
// each run of consecutive commented settings (a block such as [xdp], or a
// line) is uncommented on its own and the whole file must still load.
TEST(LoadFileTest, EveryCommentedExampleLoadsUncommented) {
  const std::string path = example_path();
  auto text = read_file_from_disk(path);
  ASSERT_TRUE(text.ok());
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  int blocks = 0;
  for (std::size_t i = 0; i < lines.size();) {
    if (!is_commented_setting(lines[i])) {
      ++i;
      continue;
    }
    std::vector<std::string> edited = lines;
    const std::size_t first = i;
    for (; i < lines.size() && (is_commented_setting(lines[i]) || is_continuation(lines[i])); ++i)
      edited[i] = lines[i].substr(lines[i].rfind("# ", 0) == 0 ? 2 : 1);
    std::string joined;
    for (const auto& line : edited) joined += line + "\n";
    // Named as the example itself, so that relative files resolve beside it.
    auto r = load_string(joined, path);
    for (const auto& d : r.errors)
      ADD_FAILURE() << "uncommenting lines " << first + 1 << "-" << i << ": " << d.to_string();
    ++blocks;
  }
  EXPECT_GE(blocks, 4);  // [retrans], [xdp] and the listener's; not vacuous
}

}  // namespace
}  // namespace sniproxy::config
