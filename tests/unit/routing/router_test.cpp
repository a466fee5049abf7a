#include "routing/router.hpp"

#include <gtest/gtest.h>

#include <utility>

#include "routes.hpp"

namespace sniproxy::routing {
namespace {

using testing::route;
using testing::table;

config::Config two_tables() {
  config::Config c;
  c.tables.emplace("public", table("public", {route("www.example.com", "pub"),
                                              route("*.example.com", "pub-any")}));
  c.tables.emplace("internal", table("internal", {route("www.example.com", "int"),
                                                  route("~.*\\.corp", "corp")}));
  return c;
}

TEST(Router, TwoTablesRouteIndependently) {
  auto router = Router::build(two_tables());
  ASSERT_TRUE(router.ok()) << router.error().message;
  const RouteTable* pub = router->table("public");
  const RouteTable* internal = router->table("internal");
  ASSERT_NE(pub, nullptr);
  ASSERT_NE(internal, nullptr);
  EXPECT_EQ(pub->size(), 2u);
  EXPECT_EQ(internal->size(), 2u);
  EXPECT_EQ(pub->lookup("www.example.com")->target.host, "pub");
  EXPECT_EQ(internal->lookup("www.example.com")->target.host, "int");
  EXPECT_EQ(pub->lookup("mail.example.com")->target.host, "pub-any");
  EXPECT_EQ(internal->lookup("mail.example.com"), nullptr);
  EXPECT_EQ(internal->lookup("git.corp")->target.host, "corp");
  EXPECT_EQ(pub->lookup("git.corp"), nullptr);
}

TEST(Router, UnknownTableIsNull) {
  auto router = Router::build(two_tables());
  ASSERT_TRUE(router.ok());
  EXPECT_EQ(router->table("missing"), nullptr);
  EXPECT_EQ(router->table(""), nullptr);
}

TEST(Router, EmptyConfigHasNoTables) {
  auto router = Router::build(config::Config{});
  ASSERT_TRUE(router.ok());
  EXPECT_EQ(router->table("default"), nullptr);
}

TEST(Router, SurvivesMoves) {
  auto built = Router::build(two_tables());
  ASSERT_TRUE(built.ok());
  Router router = std::move(built).value();
  Router moved = std::move(router);
  ASSERT_NE(moved.table("public"), nullptr);
  EXPECT_EQ(moved.table("public")->lookup("a.example.com")->target.host, "pub-any");
}

TEST(Router, ErrorNamesTableAndLocation) {
  config::Config c = two_tables();
  c.tables.emplace("broken", table("broken", {route("~[z-a]", "x", 12)}));
  auto router = Router::build(c);
  ASSERT_FALSE(router.ok());
  const std::string& message = router.error().message;
  EXPECT_NE(message.find("table 'broken'"), std::string::npos) << message;
  EXPECT_NE(message.find("routes.toml:12"), std::string::npos) << message;
}

}  // namespace
}  // namespace sniproxy::routing
