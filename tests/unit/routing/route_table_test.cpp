#include "routing/route_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/server_name.hpp"
#include "routes.hpp"

namespace sniproxy::routing {
namespace {

using testing::deny;
using testing::route;
using testing::table;

RouteTable build(std::vector<config::Route> routes) {
  auto built = RouteTable::build(table("t", std::move(routes)));
  EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().message);
  return std::move(built).value();
}

// The backend host of the route a name finds, or "" when none.
std::string backend_for(const RouteTable& t, std::string_view name) {
  const config::Route* r = t.lookup(name);
  return r == nullptr ? "" : r->target.host;
}

TEST(RouteTable, EmptyTableFindsNothing) {
  auto t = build({});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup("example.com"), nullptr);
}

TEST(RouteTable, ExactMatch) {
  auto t = build({route("example.com", "a"), route("www.example.com", "b")});
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(backend_for(t, "example.com"), "a");
  EXPECT_EQ(backend_for(t, "www.example.com"), "b");
  EXPECT_EQ(backend_for(t, "example.org"), "");
  EXPECT_EQ(backend_for(t, "xexample.com"), "");
  EXPECT_EQ(backend_for(t, "com"), "");
}

TEST(RouteTable, ExactBeatsWildcardBeatsRegex) {
  // Listed in the reverse of precedence, so file order cannot be the reason.
  auto t = build({route("~.*\\.example\\.com", "regex"), route("*.example.com", "wildcard"),
                  route("www.example.com", "exact")});
  EXPECT_EQ(backend_for(t, "www.example.com"), "exact");
  EXPECT_EQ(backend_for(t, "mail.example.com"), "wildcard");
  EXPECT_EQ(backend_for(t, "a.b.example.com"), "wildcard");
}

TEST(RouteTable, RegexUsedOnlyWhenExactAndWildcardMiss) {
  auto t = build({route("~.*\\.example\\.(com|org)", "regex"), route("*.example.com", "wildcard")});
  EXPECT_EQ(backend_for(t, "www.example.org"), "regex");
  EXPECT_EQ(backend_for(t, "www.example.com"), "wildcard");
}

TEST(RouteTable, LongerWildcardSuffixBeatsShorter) {
  auto t = build({route("*.com", "com"), route("*.example.com", "example"),
                  route("*.deep.example.com", "deep")});
  EXPECT_EQ(backend_for(t, "x.deep.example.com"), "deep");
  EXPECT_EQ(backend_for(t, "y.x.deep.example.com"), "deep");
  EXPECT_EQ(backend_for(t, "deep.example.com"), "example");
  EXPECT_EQ(backend_for(t, "a.example.com"), "example");
  EXPECT_EQ(backend_for(t, "example.com"), "com");
  EXPECT_EQ(backend_for(t, "other.com"), "com");
  EXPECT_EQ(backend_for(t, "other.org"), "");
}

TEST(RouteTable, WildcardMatchesAnyDepthButNotTheBareDomain) {
  auto t = build({route("*.example.com", "w")});
  EXPECT_EQ(backend_for(t, "a.example.com"), "w");
  EXPECT_EQ(backend_for(t, "a.b.example.com"), "w");
  EXPECT_EQ(backend_for(t, "a.b.c.d.example.com"), "w");
  EXPECT_EQ(backend_for(t, "example.com"), "");
  EXPECT_EQ(backend_for(t, "badexample.com"), "");
  EXPECT_EQ(backend_for(t, "a.example.com.evil"), "");
}

TEST(RouteTable, RegexesTriedInFileOrder) {
  auto t = build({route("~api[0-9]+\\.example\\.com", "first"), route("~api.*", "second"),
                  route("~.*", "third")});
  EXPECT_EQ(backend_for(t, "api1.example.com"), "first");
  EXPECT_EQ(backend_for(t, "api.example.com"), "second");
  EXPECT_EQ(backend_for(t, "other.net"), "third");
}

TEST(RouteTable, RegexIsAnchoredToTheWholeName) {
  auto t = build({route("~api\\.example\\.com", "api")});
  EXPECT_EQ(backend_for(t, "api.example.com"), "api");
  EXPECT_EQ(backend_for(t, "xapi.example.com"), "");
  EXPECT_EQ(backend_for(t, "api.example.com.evil"), "");
  EXPECT_EQ(backend_for(t, "xapi.example.com.evil"), "");
}

TEST(RouteTable, RegexIsCaseInsensitive) {
  auto t = build({route("~API\\.Example\\.COM", "api")});
  EXPECT_EQ(backend_for(t, "api.example.com"), "api");
}

TEST(RouteTable, EcmaScriptFeaturesWorkUnderTheLinearMatcher) {
  auto t = build({route("~(api|api-v2)\\.example\\.com", "alt"),
                  route("~^edge\\d+\\.cdn\\.net$", "anchored"),
                  route("~(?:[a-z]+-)*?shop\\.example\\.org", "lazy"),
                  route("~(?!internal)\\w+\\.example\\.io", "lookahead")});
  EXPECT_EQ(backend_for(t, "api-v2.example.com"), "alt");
  EXPECT_EQ(backend_for(t, "api.example.com"), "alt");
  EXPECT_EQ(backend_for(t, "api-v3.example.com"), "");
  EXPECT_EQ(backend_for(t, "edge12.cdn.net"), "anchored");
  EXPECT_EQ(backend_for(t, "edge.cdn.net"), "");
  EXPECT_EQ(backend_for(t, "eu-west-shop.example.org"), "lazy");
  EXPECT_EQ(backend_for(t, "shop.example.org"), "lazy");
  EXPECT_EQ(backend_for(t, "public.example.io"), "lookahead");
  EXPECT_EQ(backend_for(t, "internal.example.io"), "");
}

TEST(RouteTable, NormalisedNamesFindRoutes) {
  auto t = build({route("www.example.com", "exact"), route("*.example.org", "wildcard")});
  auto name = normalize_server_name("WWW.Example.COM.");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(backend_for(t, *name), "exact");
  auto name2 = normalize_server_name("Mail.EXAMPLE.org.");
  ASSERT_TRUE(name2.has_value());
  EXPECT_EQ(backend_for(t, *name2), "wildcard");
}

TEST(RouteTable, DenyTargetsAreReturnedLikeOthers) {
  auto t = build({deny("blocked.example.com"), deny("*.bad.example.com"), deny("~evil.*"),
                  route("*.example.com", "ok")});
  for (const char* name : {"blocked.example.com", "x.bad.example.com", "evil.net"}) {
    const config::Route* r = t.lookup(name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_EQ(r->target.kind, config::Target::Kind::deny) << name;
  }
  EXPECT_EQ(backend_for(t, "fine.example.com"), "ok");
}

TEST(RouteTable, FirstDuplicateInFileOrderWins) {
  auto t = build({route("a.example.com", "first"), route("a.example.com", "second"),
                  route("*.example.com", "first-w"), route("*.example.com", "second-w")});
  EXPECT_EQ(backend_for(t, "a.example.com"), "first");
  EXPECT_EQ(backend_for(t, "b.example.com"), "first-w");
}

TEST(RouteTable, ReturnsTheRouteWithItsSourceLocation) {
  auto t = build({route("a.example.com", "a", 7)});
  const config::Route* r = t.lookup("a.example.com");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pattern, "a.example.com");
  EXPECT_EQ(r->where.file, "routes.toml");
  EXPECT_EQ(r->where.line, 7u);
}

TEST(RouteTable, HoldsItsOwnCopyOfTheRoutes) {
  std::vector<config::Route> routes{route("a.example.com", "a"), route("*.example.com", "w"),
                                    route("~r.*", "r")};
  auto built = RouteTable::build(table("t", routes));
  ASSERT_TRUE(built.ok());
  routes.clear();
  routes.shrink_to_fit();
  EXPECT_EQ(backend_for(*built, "a.example.com"), "a");
  EXPECT_EQ(backend_for(*built, "b.example.com"), "w");
  EXPECT_EQ(backend_for(*built, "rr.net"), "r");
}

TEST(RouteTable, LookupsStayValidAfterMoves) {
  auto first =
      build({route("a.example.com", "a"), route("*.example.com", "w"), route("~r.*", "r")});
  const config::Route* before = first.lookup("a.example.com");
  RouteTable second = std::move(first);
  std::vector<RouteTable> many;
  many.push_back(std::move(second));
  for (int i = 0; i < 10; ++i) many.push_back(build({}));  // reallocates the vector
  EXPECT_EQ(many.front().lookup("a.example.com"), before);
  EXPECT_EQ(backend_for(many.front(), "b.example.com"), "w");
  EXPECT_EQ(backend_for(many.front(), "rr.net"), "r");
}

TEST(RouteTable, InvalidRegexIsAnErrorWithItsLocation) {
  auto built = RouteTable::build(table("t", {route("a.example.com", "a", 3), route("~(", "x", 9)}));
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.error().message.find("routes.toml:9"), std::string::npos)
      << built.error().message;
  EXPECT_NE(built.error().message.find("'~('"), std::string::npos) << built.error().message;
}

TEST(RouteTable, BackReferenceIsRefused) {
  // The linear-time matcher cannot do back-references (see route_table.cpp).
  auto built = RouteTable::build(table("t", {route("~(a)\\1\\.example\\.com", "x", 4)}));
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.error().message.find("routes.toml:4"), std::string::npos);
}

TEST(RouteTable, MalformedWildcardKeyIsAnError) {
  config::Route bad = route("*.example.com", "w");
  bad.key = "example.com";  // config always stores ".example.com"
  EXPECT_FALSE(RouteTable::build(table("t", {bad})).ok());
}

TEST(RouteTable, NamesLongerThanAnyServerNameFindNothing) {
  auto t = build({route("~.*", "any")});
  EXPECT_EQ(backend_for(t, std::string(253, 'a')), "any");
  EXPECT_EQ(backend_for(t, std::string(254, 'a')), "");
  EXPECT_EQ(backend_for(t, ""), "");
}

TEST(RouteTable, PathologicalRegexesDoNotBacktrackExponentially) {
  // With a backtracking matcher each of these takes over a second at 24
  // bytes and doubles per byte; 253 bytes would never finish.
  auto t = build({route("~(a+)+", "x"), route("~(a|a)*b", "y"), route("~(a|aa)*c", "z")});
  const std::string name = std::string(252, 'a') + "-";
  EXPECT_EQ(t.lookup(name), nullptr);
  EXPECT_EQ(backend_for(t, std::string(253, 'a')), "x");
}

TEST(RouteTable, TenThousandRoutes) {
  std::vector<config::Route> routes;
  routes.reserve(10'003);
  for (int i = 0; i < 5'000; ++i)
    routes.push_back(route("host" + std::to_string(i) + ".example.com", "e" + std::to_string(i)));
  for (int i = 0; i < 5'000; ++i)
    routes.push_back(route("*.zone" + std::to_string(i) + ".example.net", "w" + std::to_string(i)));
  routes.push_back(route("~api[0-9]+\\.example\\.org", "api"));
  routes.push_back(route("~cdn-[a-z]+\\.example\\.org", "cdn"));
  routes.push_back(route("~.*\\.example\\.org", "org"));
  auto t = build(std::move(routes));
  EXPECT_EQ(t.size(), 10'003u);
  for (int i = 0; i < 5'000; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(backend_for(t, "host" + n + ".example.com"), "e" + n);
    ASSERT_EQ(backend_for(t, "a.zone" + n + ".example.net"), "w" + n);
    ASSERT_EQ(backend_for(t, "a.b.zone" + n + ".example.net"), "w" + n);
    ASSERT_EQ(backend_for(t, "zone" + n + ".example.net"), "");
  }
  EXPECT_EQ(backend_for(t, "host5000.example.com"), "");
  EXPECT_EQ(backend_for(t, "a.zone5000.example.net"), "");
  EXPECT_EQ(backend_for(t, "api42.example.org"), "api");
  EXPECT_EQ(backend_for(t, "cdn-edge.example.org"), "cdn");
  EXPECT_EQ(backend_for(t, "www.example.org"), "org");
  EXPECT_EQ(backend_for(t, "www.example.biz"), "");
}

}  // namespace
}  // namespace sniproxy::routing
