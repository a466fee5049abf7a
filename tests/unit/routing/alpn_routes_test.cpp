// Routes with `alpn`: they match only clients offering one of their
// protocols, and then win over every route without `alpn`.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "routes.hpp"
#include "routing/route_table.hpp"

namespace sniproxy::routing {
namespace {

using testing::alpn_route;
using testing::route;
using testing::table;

using Offered = std::vector<std::string>;

RouteTable compile(std::vector<config::Route> routes) {
  auto built = RouteTable::build(table("t", std::move(routes)));
  EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().message);
  return std::move(built).value();
}

std::string backend_offering(const RouteTable& t, std::string_view name, const Offered& offered) {
  const config::Route* r = t.lookup(name, offered);
  return r == nullptr ? "" : r->target.host;
}

TEST(AlpnRoutes, AcmeGoesToTheResponderEverythingElseToTheServer) {
  auto t = compile({route("a.example", "server"), alpn_route("a.example", {"acme-tls/1"}, "acme")});
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(backend_offering(t, "a.example", {"acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "a.example", {"h2", "acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "a.example", {"h2", "http/1.1"}), "server");
  EXPECT_EQ(backend_offering(t, "a.example", {}), "server");
}

TEST(AlpnRoutes, AlpnWildcardBeatsAnExactRouteWithoutAlpn) {
  auto t = compile(
      {route("www.example.com", "exact"), alpn_route("*.example.com", {"acme-tls/1"}, "acme")});
  EXPECT_EQ(backend_offering(t, "www.example.com", {"acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "www.example.com", {"h2"}), "exact");
  EXPECT_EQ(backend_offering(t, "www.example.com", {}), "exact");
}

TEST(AlpnRoutes, AlpnRegexBeatsAnExactRouteWithoutAlpn) {
  auto t = compile({route("www.example.com", "exact"),
                    alpn_route("~.*\\.example\\.com", {"acme-tls/1"}, "acme")});
  EXPECT_EQ(backend_offering(t, "www.example.com", {"acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "www.example.com", {"h2"}), "exact");
}

TEST(AlpnRoutes, NoMatchingAlpnRouteLeavesTheNameUnroutedWithoutAFallbackRoute) {
  auto t = compile({alpn_route("a.example", {"acme-tls/1"}, "acme")});
  EXPECT_EQ(backend_offering(t, "a.example", {"acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "a.example", {"h2"}), "");
  EXPECT_EQ(backend_offering(t, "a.example", {}), "");
  EXPECT_EQ(backend_offering(t, "b.example", {"acme-tls/1"}), "");
}

TEST(AlpnRoutes, RoutesOfOnePatternSplitByProtocolInTheClientsOrder) {
  auto t = compile({route("a.example", "server"), alpn_route("a.example", {"acme-tls/1"}, "acme"),
                    alpn_route("a.example", {"h2", "h3"}, "modern")});
  EXPECT_EQ(backend_offering(t, "a.example", {"acme-tls/1"}), "acme");
  EXPECT_EQ(backend_offering(t, "a.example", {"h3"}), "modern");
  EXPECT_EQ(backend_offering(t, "a.example", {"http/1.1"}), "server");
  // Both routes match: the protocol the client prefers decides.
  EXPECT_EQ(backend_offering(t, "a.example", {"h2", "acme-tls/1"}), "modern");
  EXPECT_EQ(backend_offering(t, "a.example", {"acme-tls/1", "h2"}), "acme");
}

TEST(AlpnRoutes, UsualOrderAmongAlpnRoutes) {
  auto t = compile({alpn_route("~.*\\.example\\.com", {"x"}, "regex"),
                    alpn_route("*.example.com", {"x"}, "short"),
                    alpn_route("*.b.example.com", {"x"}, "long"),
                    alpn_route("www.b.example.com", {"x"}, "exact")});
  EXPECT_EQ(backend_offering(t, "www.b.example.com", {"x"}), "exact");
  EXPECT_EQ(backend_offering(t, "mail.b.example.com", {"x"}), "long");
  EXPECT_EQ(backend_offering(t, "mail.example.com", {"x"}), "short");
  EXPECT_EQ(backend_offering(t, "example.com.example.com", {"x"}), "short");
}

TEST(AlpnRoutes, ExactAlpnRouteForAnotherProtocolFallsThroughToAWildcardOne) {
  auto t = compile({alpn_route("www.example.com", {"h2"}, "exact-h2"),
                    alpn_route("*.example.com", {"acme-tls/1"}, "wild-acme")});
  EXPECT_EQ(backend_offering(t, "www.example.com", {"acme-tls/1"}), "wild-acme");
  EXPECT_EQ(backend_offering(t, "www.example.com", {"h2"}), "exact-h2");
}

TEST(AlpnRoutes, HttpNeverMatchesAlpnRoutes) {
  // HTTP requests are looked up without protocols.
  auto t = compile({alpn_route("a.example", {"http/1.1"}, "alpn"), route("*.example", "plain")});
  EXPECT_EQ(t.lookup("a.example")->target.host, "plain");
  auto only = compile({alpn_route("a.example", {"http/1.1"}, "alpn")});
  EXPECT_EQ(only.lookup("a.example"), nullptr);
}

TEST(AlpnRoutes, InvalidRegexIsStillAnError) {
  auto built = RouteTable::build(table("t", {alpn_route("~a(b", {"acme-tls/1"}, "acme", 7)}));
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.error().message.find("routes.toml:7"), std::string::npos);
}

}  // namespace
}  // namespace sniproxy::routing
