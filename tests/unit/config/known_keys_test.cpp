// The keys the loader accepts (config/known_keys.hpp, the very lists it
// rejects other keys with) are all documented in sniproxy.toml(5) and shown
// in the shipped example, so adding a key without its docs fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/known_keys.hpp"

#ifndef SNIPROXY_SOURCE_ROOT
#error "meson passes SNIPROXY_SOURCE_ROOT"
#endif

namespace sniproxy::config {
namespace {

std::vector<std::string> source_lines(const std::string& relative) {
  std::ifstream in(std::string(SNIPROXY_SOURCE_ROOT) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The heading text a section's .SH line holds in the man page: "[dns]",
// "[[tables.NAME]]", "[pools.NAME]", and for "pools.health"
// "[pools.NAME.health]".
std::string man_heading(std::string_view section) {
  if (section.empty()) return "TOP-LEVEL KEYS";
  if (section == "listener") return "[[listener]]";
  if (section == "tables") return "[[tables.NAME]]";
  if (section == "pools") return "[pools.NAME]";
  if (const auto dot = section.find('.'); dot != std::string_view::npos)
    return "[" + std::string(section.substr(0, dot)) + ".NAME." +
           std::string(section.substr(dot + 1)) + "]";
  return "[" + std::string(section) + "]";
}

bool is_table_key(std::string_view section, std::string_view key) {
  if (!section.empty()) return false;
  for (const SectionKeys& s : kKnownKeys)
    if (s.section == key) return true;
  return false;
}

TEST(KnownKeys, ManPageDocumentsEveryKeyInItsSection) {
  // Keys of a section: ".B key" / ".BR key ..." lines under its .SH heading.
  std::map<std::string, std::set<std::string>> documented;
  std::string heading;
  static const std::regex sh(R"re(^\.SH "?([^"]*)"?)re");
  static const std::regex key(R"(^\.BR? ([a-z_][a-z0-9_]*)(\s|$))");
  for (const std::string& line : source_lines("man/sniproxy.toml.5")) {
    std::smatch m;
    if (std::regex_search(line, m, sh)) {
      heading = m[1];
    } else if (std::regex_search(line, m, key)) {
      documented[heading].insert(m[1]);
    }
  }
  std::set<std::string> headings;
  for (const auto& [h, keys] : documented) headings.insert(h);
  for (const SectionKeys& s : kKnownKeys) {
    const std::string want = man_heading(s.section);
    std::string found;
    for (const auto& [h, keys] : documented)
      if (h.find(want) != std::string::npos) found = h;
    ASSERT_FALSE(found.empty()) << "sniproxy.toml(5) has no .SH for " << want;
    for (std::string_view k : s.keys) {
      if (is_table_key(s.section, k)) continue;  // a section of its own, checked above
      EXPECT_EQ(documented[found].count(std::string(k)), 1u)
          << "sniproxy.toml(5) does not document '" << k << "' under " << found;
    }
  }
}

TEST(KnownKeys, ShippedExampleShowsEveryKeyInItsSection) {
  // "key =" lines, commented or not, under the last "[section]" heading
  // above them (commented or not); [[tables.NAME]] counts as "tables",
  // [pools.NAME] as "pools", and [pools.NAME.health] as "pools.health" (and
  // shows the key "health" of "pools").
  std::map<std::string, std::set<std::string>> shown;
  std::string section;
  static const std::regex heading(R"(^#? ?\[\[?([a-z_]+)(\.[a-z0-9_]+)?(\.([a-z_]+))?)");
  static const std::regex key(R"(^#? ?([a-z_][a-z0-9_]*) *=)");
  for (const std::string& line : source_lines("packaging/proxy.toml")) {
    std::smatch m;
    if (std::regex_search(line, m, heading)) {
      section = m[1];
      shown[""].insert(section);
      if (m[4].matched) {
        shown[section].insert(m[4]);
        section += "." + m[4].str();
      }
    } else if (std::regex_search(line, m, key)) {
      shown[section].insert(m[1]);
    }
  }
  for (const SectionKeys& s : kKnownKeys)
    for (std::string_view k : s.keys)
      EXPECT_EQ(shown[std::string(s.section)].count(std::string(k)), 1u)
          << "packaging/proxy.toml does not show '" << k << "' in [" << s.section << "]";
}

}  // namespace
}  // namespace sniproxy::config
