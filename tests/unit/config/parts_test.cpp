// The loader's building blocks on their own: durations, patterns, targets,
// suggestions and the names printed in logs.
#include <gtest/gtest.h>

#include <array>
#include <string_view>

#include "config/duration.hpp"
#include "config/loader.hpp"
#include "config/pattern.hpp"
#include "config/suggest.hpp"
#include "config/target.hpp"

namespace sniproxy::config {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250ms").value(), 250ms);
  EXPECT_EQ(parse_duration("5s").value(), 5s);
  EXPECT_EQ(parse_duration("2m").value(), 2min);
  EXPECT_EQ(parse_duration("1h").value(), 1h);
  EXPECT_EQ(parse_duration("0s").value(), 0ms);
  EXPECT_EQ(parse_duration("007s").value(), 7s);
  EXPECT_EQ(parse_duration("168h").value(), kMaxDuration);
  EXPECT_EQ(parse_duration("604800000ms").value(), kMaxDuration);
}

TEST(DurationTest, RefusesAnythingElse) {
  for (std::string_view bad : {"", "5", "s", "ms", "-5s", "+5s", "5 s", " 5s", "5s ", "1.5s", "5S",
                               "5sec", "5d", "5us", "1h30m", "0x10s"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
}

TEST(DurationTest, RefusesOverflowAndTooLong) {
  EXPECT_FALSE(parse_duration("169h").ok());
  EXPECT_FALSE(parse_duration("604800001ms").ok());
  EXPECT_FALSE(parse_duration("99999999999999999999999999h").ok());
}

TEST(PatternTest, ExactNamesAreNormalised) {
  auto p = parse_pattern("WWW.Example.COM.");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, PatternKind::exact);
  EXPECT_EQ(p->key, "www.example.com");
}

TEST(PatternTest, WildcardKeyKeepsTheLeadingDot) {
  auto p = parse_pattern("*.Example.com");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, PatternKind::wildcard);
  EXPECT_EQ(p->key, ".example.com");
}

TEST(PatternTest, RegexKeyIsTheExpressionAsWritten) {
  auto p = parse_pattern("~^API[0-9]+\\.example$");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, PatternKind::regex);
  EXPECT_EQ(p->key, "^API[0-9]+\\.example$");
}

TEST(PatternTest, RefusesMalformedPatterns) {
  for (std::string_view bad : {"", "*", "*.", "**.a", "*a.com", "a.*.b", "a*", "*.a*", "a..b",
                               "a b", "~", "~[", "~a{2,1}", "~(?<n>a)"}) {
    EXPECT_FALSE(parse_pattern(bad).ok()) << bad;
  }
}

TEST(PatternTest, RefusesOverlongRegex) {
  EXPECT_TRUE(parse_pattern("~" + std::string(kMaxRegexLength, 'a')).ok());
  EXPECT_FALSE(parse_pattern("~" + std::string(kMaxRegexLength + 1, 'a')).ok());
}

// libstdc++ would overflow a long parsing these counts (undefined behaviour
// found by fuzz_config_load) or build a huge automaton; they are refused first.
TEST(PatternTest, RefusesHugeRepetitionCounts) {
  EXPECT_TRUE(parse_pattern("~^a{1000}$").ok());
  EXPECT_TRUE(parse_pattern("~^a{2,1000}$").ok());
  EXPECT_TRUE(parse_pattern("~^[{99999}]\\{99999}$").ok());  // literal braces
  for (std::string_view bad : {"~a{1001}", "~a{1,1001}", "~a{99999999999999999999}", "~a{00001}"}) {
    auto p = parse_pattern(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().message.find("repetition count"), std::string::npos) << p.error().message;
  }
}

// A backreference number is parsed with the same unchecked arithmetic
// (found by fuzz_config_load in CI); no server name needs one.
TEST(PatternTest, RefusesBackreferences) {
  EXPECT_TRUE(parse_pattern("~^a\\0?b$").ok());
  for (std::string_view bad : {"~(a)\\1", "~(a)[\\1]", "~(a)\\99999999999999999999999"}) {
    auto p = parse_pattern(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().message.find("backreference"), std::string::npos) << p.error().message;
  }
}

TEST(TargetTest, Backends) {
  auto v4 = parse_backend("10.0.0.1:443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->kind, Target::Kind::backend);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 443);
  auto v6 = parse_backend("[2001:DB8::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  auto name = parse_backend("Backend.Internal.:80");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "backend.internal");
  for (std::string_view bad :
       {"", "10.0.0.1", "10.0.0.1:", ":443", "10.0.0.1:65536", "2001:db8::1:443", "[10.0.0.1]:443",
        "a b:1", "1.2.3:80", "resolve:443x", "host:-1"}) {
    EXPECT_FALSE(parse_backend(bad).ok()) << bad;
  }
}

TEST(TargetTest, Fallbacks) {
  EXPECT_EQ(parse_fallback("deny")->kind, Target::Kind::deny);
  auto resolve = parse_fallback("resolve:8443");
  ASSERT_TRUE(resolve.ok());
  EXPECT_EQ(resolve->kind, Target::Kind::resolve);
  EXPECT_EQ(resolve->port, 8443);
  EXPECT_EQ(parse_fallback("127.0.0.1:1")->kind, Target::Kind::backend);
  for (std::string_view bad : {"resolve:", "resolve:0", "resolve:65536", "resolve:+1", "DENY", ""})
    EXPECT_FALSE(parse_fallback(bad).ok()) << bad;
}

TEST(TargetTest, DescribeForLogs) {
  Target t;
  EXPECT_EQ(describe(t), "deny");
  t.kind = Target::Kind::resolve;
  t.port = 443;
  EXPECT_EQ(describe(t), "resolve:443");
  t = parse_backend("10.0.0.1:443").value();
  EXPECT_EQ(describe(t), "10.0.0.1:443");
  t = parse_backend("[::1]:443").value();
  EXPECT_EQ(describe(t), "[::1]:443");
  t = parse_backend("b.example:80").value();
  EXPECT_EQ(describe(t), "b.example:80");
}

TEST(NamesTest, EnumsPrintAsWritten) {
  EXPECT_EQ(to_string(ForwardingMode::copy), "copy");
  EXPECT_EQ(to_string(Protocol::tls), "tls");
  EXPECT_EQ(to_string(Protocol::http), "http");
  EXPECT_EQ(to_string(ProxyProtocol::none), "none");
  EXPECT_EQ(to_string(ProxyProtocol::v1), "v1");
  EXPECT_EQ(to_string(ProxyProtocol::v2), "v2");
  EXPECT_EQ(to_string(LogFormat::text), "text");
  EXPECT_EQ(to_string(LogFormat::json), "json");
}

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("timeout", "timeout"), 0u);
  EXPECT_EQ(edit_distance("timout", "timeout"), 1u);
  EXPECT_EQ(edit_distance("timoeut", "timeout"), 1u);  // a swap is one edit
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(SuggestTest, ClosestWithinTwoEdits) {
  constexpr std::array<std::string_view, 3> keys{"hello", "connect", "idle"};
  EXPECT_EQ(closest_match("conect", keys), "connect");
  EXPECT_EQ(closest_match("idel", keys), "idle");
  EXPECT_EQ(closest_match("helo", keys), "hello");
  EXPECT_FALSE(closest_match("shutdown", keys).has_value());
  EXPECT_FALSE(closest_match("x", std::array<std::string_view, 1>{"ab"}).has_value());
}

}  // namespace
}  // namespace sniproxy::config
