// [admin]: off unless present, `listen` required, bounds checked, and a
// change of it needs a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/admin_section.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using testing::kMinimal;
using testing::must_load;

TEST(AdminConfigTest, AbsentMeansOff) {
  EXPECT_FALSE(must_load(kMinimal).admin.has_value());
}

TEST(AdminConfigTest, ListenAndDefaults) {
  const Config c = must_load("[admin]\nlisten = \"127.0.0.1:9090\"\n" + std::string(kMinimal));
  ASSERT_TRUE(c.admin);
  EXPECT_EQ(c.admin->listen.to_string(), "127.0.0.1:9090");
  EXPECT_EQ(c.admin->max_clients, 16u);
  EXPECT_EQ(c.admin->request_timeout, Millis(5000));
  const Config v6 =
      must_load("[admin]\nlisten = \"[::1]:9090\"\nmax_clients = 4\nrequest_timeout = \"250ms\"\n" +
                std::string(kMinimal));
  EXPECT_EQ(v6.admin->listen.to_string(), "[::1]:9090");
  EXPECT_EQ(v6.admin->max_clients, 4u);
  EXPECT_EQ(v6.admin->request_timeout, Millis(250));
}

TEST(AdminConfigTest, MistakesAreLocatedAndSayWhatIsExpected) {
  EXPECT_THAT(errors_of("[admin]\nmax_clients = 4\n" + std::string(kMinimal)),
              ElementsAre("t.toml:1:1: [admin] needs 'listen', e.g. listen = \"127.0.0.1:9090\" "
                          "(remove the section to turn the endpoint off)"));
  EXPECT_THAT(errors_of("[admin]\nlisten = \"localhost:9090\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:10: invalid address 'localhost:9090': expected IP:PORT or "
                          "[IPV6]:PORT (e.g. \"127.0.0.1:9090\")"));
  EXPECT_THAT(
      errors_of("[admin]\nlisten = \"127.0.0.1:1\"\nmax_clients = 0\n" + std::string(kMinimal)),
      ElementsAre(::testing::HasSubstr("t.toml:3:15:")));
  EXPECT_THAT(
      errors_of("[admin]\nlisten = \"127.0.0.1:1\"\nmax_client = 3\n" + std::string(kMinimal)),
      ElementsAre(::testing::HasSubstr("did you mean 'max_clients'")));
}

TEST(AdminConfigTest, ChangesNeedARestart) {
  Admin a{.listen = *Endpoint::parse("127.0.0.1:1")};
  Admin b = a;
  EXPECT_EQ(admin_reload_blocker(std::nullopt, std::nullopt), "");
  EXPECT_EQ(admin_reload_blocker(a, b), "");
  EXPECT_EQ(admin_reload_blocker(a, std::nullopt), "[admin] added or removed");
  b.max_clients = 3;
  EXPECT_EQ(admin_reload_blocker(a, b), "[admin] changed");
}

}  // namespace
}  // namespace sniproxy::config
